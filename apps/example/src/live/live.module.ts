import { Module } from '@nestjs/common';
import { LiveController } from './live.controller';
import { LiveGateway } from './live.gateway';

/** The live connection: a socket.io gateway that follows the session, and the page that opens it. */
@Module({ controllers: [LiveController], providers: [LiveGateway] })
export class LiveModule {}
