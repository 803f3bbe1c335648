import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { HealthController } from './health.controller';

/** `GET /health`, with the session store's health indicator (from the global SessionModule). */
@Module({ imports: [TerminusModule], controllers: [HealthController] })
export class HealthModule {}
