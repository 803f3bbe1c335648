import type { ApolloDriverConfig } from '@nestjs/apollo';
import { ApolloDriver } from '@nestjs/apollo';
import { Args, Field, GraphQLModule, Int, Mutation, ObjectType, Query, ResolveField, Resolver } from '@nestjs/graphql';
import type { MercuriusDriverConfig } from '@nestjs/mercurius';
import { MercuriusDriver } from '@nestjs/mercurius';
import { Module, UseGuards, type DynamicModule } from '@nestjs/common';
import { Public, Roles, Session, SessionGuard, SessionModule, type SessionOptions } from '@app/session';
import type { HttpPlatformName } from './http-platform';

/** The GraphQL driver each platform uses: Apollo on Express, Mercurius on Fastify. */
export function graphqlModuleFor(platform: HttpPlatformName): DynamicModule {
  return platform === 'fastify'
    ? GraphQLModule.forRoot<MercuriusDriverConfig>({ driver: MercuriusDriver, autoSchemaFile: true })
    : GraphQLModule.forRoot<ApolloDriverConfig>({ driver: ApolloDriver, autoSchemaFile: true });
}

type TestSession = Session<{ visits?: number; user?: { id: string; roles: string[] } }>;

@ObjectType()
export class Viewer {
  @Field()
  id!: string;

  @Field(() => [String])
  roles!: string[];
}

@ObjectType()
export class Profile {
  @Field()
  name!: string;
}

/** Resolvers for the GraphQL suites: guarded, public, role-checked, writing and signing in. */
@Resolver(() => Profile)
@UseGuards(SessionGuard)
export class TestResolver {
  @Query(() => Viewer)
  me(@Session() session: TestSession): Viewer {
    return { id: session.user!.id, roles: session.user!.roles };
  }

  @Query(() => String)
  @Roles('admin')
  adminOnly(): string {
    return 'secret';
  }

  @Query(() => Int)
  @Public()
  visits(@Session() session: TestSession): number {
    return session.visits ?? 0;
  }

  @Mutation(() => Int)
  @Public()
  visit(@Session() session: TestSession): number {
    session.visits = (session.visits ?? 0) + 1;
    return session.visits;
  }

  @Mutation(() => Boolean)
  @Public()
  async login(@Session() session: TestSession, @Args('id') id: string, @Args('admin', { defaultValue: false }) admin: boolean): Promise<boolean> {
    await session.login({ id, roles: admin ? ['user', 'admin'] : ['user'] });
    return true;
  }

  @Mutation(() => Boolean)
  async logout(@Session() session: TestSession): Promise<boolean> {
    await session.logout();
    return true;
  }

  @Query(() => Profile)
  profile(): Profile {
    return { name: 'profile' };
  }

  /** A field resolver: reads the same session as its parent operation. */
  @ResolveField(() => String)
  owner(@Session() session: TestSession): string {
    return session.user?.id ?? 'nobody';
  }
}

/** A module with the resolvers above on `platform`, with the given session options. */
export function graphqlTestModule(platform: HttpPlatformName, options: SessionOptions): DynamicModule {
  @Module({})
  class GraphqlTestModule {}
  return {
    module: GraphqlTestModule,
    imports: [SessionModule.forRoot(options), graphqlModuleFor(platform)],
    providers: [TestResolver],
  };
}
