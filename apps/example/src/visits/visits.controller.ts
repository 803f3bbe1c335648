import { Controller, HttpCode, Post } from '@nestjs/common';
import { Session } from '@app/session';
import type { ExampleSession } from '../auth/session-user';

/** The classic session demo: a counter kept in the session (anonymous sessions too). */
@Controller('visits')
export class VisitsController {
  @Post()
  @HttpCode(200)
  count(@Session() session: ExampleSession): { visits: number } {
    session.visits = (session.visits ?? 0) + 1;
    return { visits: session.visits };
  }
}
