import { Controller, HttpCode, Post } from '@nestjs/common';
import { Session } from '@app/session';
import type { ExampleSession } from '../auth/session-user';
import { countVisit } from './visit-counter';

/** The classic session demo: a counter kept in the session (anonymous sessions too). */
@Controller('visits')
export class VisitsController {
  @Post()
  @HttpCode(200)
  count(@Session() session: ExampleSession): { visits: number } {
    return { visits: countVisit(session) };
  }
}
