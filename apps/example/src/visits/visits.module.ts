import { Module } from '@nestjs/common';
import { VisitsController } from './visits.controller';

/** The visit counter kept in the session. */
@Module({ controllers: [VisitsController] })
export class VisitsModule {}
