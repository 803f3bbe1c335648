import { BadRequestException } from '@nestjs/common';

/** A login attempt, validated. */
export interface Credentials {
  readonly username: string;
  readonly password: string;
}

const MAX_USERNAME_LENGTH = 64;
// bcrypt reads at most 72 bytes; a longer password would be silently truncated, so refuse it.
const MAX_PASSWORD_BYTES = 72;
// eslint-disable-next-line no-control-regex -- rejecting control characters is the point
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f]/;

/**
 * Validates a login body (JSON or form). Anything else than two short, well-formed strings is a
 * 400 with every problem listed; it never reaches bcrypt.
 */
export function parseCredentials(body: unknown): Credentials {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new BadRequestException(['body: must be a JSON object or a form with username and password']);
  }
  const fields = body as Record<string, unknown>;
  const problems = [
    ...checkField('username', fields.username, (value) => value.length <= MAX_USERNAME_LENGTH, `at most ${MAX_USERNAME_LENGTH} characters`),
    ...checkField('password', fields.password, (value) => Buffer.byteLength(value, 'utf8') <= MAX_PASSWORD_BYTES, `at most ${MAX_PASSWORD_BYTES} bytes`),
  ];
  if (problems.length > 0) throw new BadRequestException(problems);
  return { username: fields.username as string, password: fields.password as string };
}

function checkField(name: string, value: unknown, fits: (value: string) => boolean, limit: string): string[] {
  if (value === undefined || value === '') return [`${name}: is required`];
  if (typeof value !== 'string') return [`${name}: must be a string`];
  if (!fits(value)) return [`${name}: must be ${limit}`];
  if (CONTROL_CHARACTERS.test(value)) return [`${name}: must not contain control characters`];
  if (!value.isWellFormed()) return [`${name}: must be valid Unicode text`];
  return [];
}
