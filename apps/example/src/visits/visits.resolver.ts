import { Int, Mutation, Resolver } from '@nestjs/graphql';
import { Session } from '@app/session';
import type { ExampleSession } from '../auth/session-user';
import { countVisit } from './visit-counter';

/** `mutation { visit }`: the same counter as `POST /visits`, committed before the response like it. */
@Resolver()
export class VisitsResolver {
  @Mutation(() => Int, { description: 'Counts a visit in the session (anonymous sessions too); the same counter as POST /visits.' })
  visit(@Session() session: ExampleSession): number {
    return countVisit(session);
  }
}
