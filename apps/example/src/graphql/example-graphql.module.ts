import { ApolloDriver, type ApolloDriverConfig } from '@nestjs/apollo';
import { Module, type DynamicModule } from '@nestjs/common';
import { GraphQLModule } from '@nestjs/graphql';
import { MercuriusDriver, type MercuriusDriverConfig } from '@nestjs/mercurius';
import type { ExampleHttpPlatform } from '../config/example-config';
import { MeResolver } from './me.resolver';

/**
 * `POST /graphql`, with the same session cookie as the HTTP routes. The driver follows the HTTP
 * platform: Apollo on Express, Mercurius on Fastify (each its platform's native GraphQL server).
 * The schema is built from the resolvers' decorators, in memory. Resolvers live with their
 * feature (`visit` in VisitsModule); `me` here.
 */
@Module({})
export class ExampleGraphqlModule {
  static forPlatform(platform: ExampleHttpPlatform): DynamicModule {
    const graphql =
      platform === 'fastify'
        ? GraphQLModule.forRoot<MercuriusDriverConfig>({ driver: MercuriusDriver, autoSchemaFile: true, path: '/graphql' })
        : // Apollo's own CSRF prevention stays on: it refuses simple requests (form posts, GETs without a preflight header).
          GraphQLModule.forRoot<ApolloDriverConfig>({ driver: ApolloDriver, autoSchemaFile: true, path: '/graphql' });
    return { module: ExampleGraphqlModule, imports: [graphql], providers: [MeResolver] };
  }
}
