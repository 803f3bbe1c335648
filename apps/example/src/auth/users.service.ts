import { Injectable } from '@nestjs/common';
import { compare } from 'bcrypt';
import { DEMO_USERS, DUMMY_PASSWORD_HASH, type DemoUser } from './demo-users';

/** Looks up users and checks passwords. */
@Injectable()
export class UsersService {
  private readonly users = new Map(DEMO_USERS.map((user) => [user.username, user]));

  /**
   * The user when the password matches, otherwise undefined. Always runs one bcrypt comparison,
   * whether the user exists or not (no timing difference reveals valid usernames).
   */
  async verifyCredentials(username: string, password: string): Promise<DemoUser | undefined> {
    const user = this.users.get(username);
    const matches = await compare(password, user?.passwordHash ?? DUMMY_PASSWORD_HASH);
    return user && matches ? user : undefined;
  }
}
