/**
 * Signs in once (`POST /login`) and returns the `Cookie` header the load then sends, checking
 * that `GET /me` and `POST /visits` really see the session: a variant that silently answered 401
 * would otherwise look fast.
 */
export async function signIn(origin: string): Promise<string> {
  const login = await fetch(`${origin}/login`, { method: 'POST' });
  if (login.status !== 200) throw new Error(`POST /login answered ${login.status}`);
  // Read to the end: express-session sends the headers before its store write completes and
  // ends the body after it, so only the end of the body says the session is stored.
  await login.arrayBuffer();
  const cookie = login.headers
    .getSetCookie()
    .map((header) => header.split(';', 1)[0])
    .join('; ');
  const me = await fetch(`${origin}/me`, { headers: cookie ? { cookie } : {} });
  const body = (await me.json()) as { user?: { id?: string } };
  if (me.status !== 200 || body.user?.id !== 'user-1001') {
    throw new Error(`GET /me after login answered ${me.status} ${JSON.stringify(body)}`);
  }
  const visits = await fetch(`${origin}/visits`, { method: 'POST', headers: cookie ? { cookie } : {} });
  await visits.arrayBuffer();
  if (visits.status !== 200) throw new Error(`POST /visits answered ${visits.status}`);
  return cookie;
}
