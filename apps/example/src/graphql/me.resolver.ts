import { UseGuards } from '@nestjs/common';
import { Query, Resolver } from '@nestjs/graphql';
import { Session, SessionGuard } from '@app/session';
import type { ExampleSession } from '../auth/session-user';
import { ViewerModel } from './viewer.model';

/** `query { me { username roles } }`: the signed-in user, or an `UNAUTHENTICATED` error (from SessionGuard). */
@Resolver(() => ViewerModel)
@UseGuards(SessionGuard)
export class MeResolver {
  @Query(() => ViewerModel, { description: 'The signed-in user (error UNAUTHENTICATED when anonymous).' })
  me(@Session() session: ExampleSession): ViewerModel {
    const { username, roles } = session.user!;
    return { username, roles: [...roles] };
  }
}
