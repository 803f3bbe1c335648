/** A user of the example app. */
export interface DemoUser {
  readonly username: string;
  readonly passwordHash: string;
  readonly roles: readonly string[];
}

/**
 * DEMO-ONLY accounts, with bcrypt (cost 10) hashes of their published passwords:
 * `alice` / `alice-password` (role user) and `admin` / `admin-password` (role admin).
 * A real application keeps users in a database and never ships passwords.
 */
export const DEMO_USERS: readonly DemoUser[] = [
  { username: 'alice', passwordHash: '$2b$10$2GMyqJBJ6j3cQngGiBSmde9gilGeuI5RxnDCIL8b1mjqqc9owA8W.', roles: ['user'] },
  { username: 'admin', passwordHash: '$2b$10$hVbbAKMO9mcPcCOpthejDuqwWAVeTsjh8V/aB96.ymEgRoFcUjJbq', roles: ['admin'] },
];

/**
 * A bcrypt hash (same cost) of a random string nobody knows. An unknown username is compared
 * against it, so it costs the same time as a wrong password and the response time does not
 * reveal which usernames exist.
 */
export const DUMMY_PASSWORD_HASH = '$2b$10$OOT/Tq1Tl0rd.ZSVPLHx6uSxQKtTzCde7J9ubN.QIfxbXho5M/kEK';
