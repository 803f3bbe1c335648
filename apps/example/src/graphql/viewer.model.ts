import { Field, ObjectType } from '@nestjs/graphql';

/** The signed-in user as GraphQL shows it (`query { me { username roles } }`). */
@ObjectType('Viewer')
export class ViewerModel {
  @Field()
  username!: string;

  @Field(() => [String])
  roles!: string[];
}
