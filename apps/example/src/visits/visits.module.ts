import { Module } from '@nestjs/common';
import { VisitsController } from './visits.controller';
import { VisitsResolver } from './visits.resolver';

/** The visit counter kept in the session, over HTTP and GraphQL. */
@Module({ controllers: [VisitsController], providers: [VisitsResolver] })
export class VisitsModule {}
