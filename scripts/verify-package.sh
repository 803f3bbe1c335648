#!/usr/bin/env bash
# Packs the library with `npm pack`, installs the tarball into a brand-new Nest app outside this
# repository whose source files are the code blocks of the library README's quick start, builds
# it, starts it and runs the login / profile / logout flow against it.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/session-consumer.XXXXXX)
port=${VERIFY_PORT:-3917}
app_pid=""
cleanup() {
  [ -n "$app_pid" ] && kill "$app_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

echo "verify-package: packing the library"
(cd "$repo/libs/session" && npm pack --silent --pack-destination "$work" >/dev/null)
tarball=$(ls "$work"/nest-session-auth-*.tgz)
echo "verify-package: $(basename "$tarball") ($(tar -tzf "$tarball" | wc -l) files)"
if tar -tzf "$tarball" | grep -qE '\.spec\.|/src/'; then
  echo "verify-package: the tarball ships tests or sources" >&2
  exit 1
fi

app="$work/app"
mkdir -p "$app/src"
# Pin what the repository itself is tested with.
version_of() { node -p "require('$repo/node_modules/$1/package.json').version"; }
cat > "$app/package.json" <<JSON
{ "name": "fresh-consumer", "private": true, "version": "0.0.0" }
JSON
cat > "$app/tsconfig.json" <<'JSON'
{
  "compilerOptions": {
    "module": "nodenext", "moduleResolution": "nodenext", "target": "ES2023", "lib": ["ES2023"],
    "types": ["node"], "strict": true, "experimentalDecorators": true, "emitDecoratorMetadata": true,
    "esModuleInterop": true, "skipLibCheck": true, "outDir": "dist", "rootDir": "src"
  },
  "include": ["src"]
}
JSON
# The README's quick start, byte for byte: every ```ts block whose first line is `// src/<file>`.
node - "$repo/libs/session/README.md" "$app" <<'NODE'
const fs = require('node:fs');
const [readme, app] = process.argv.slice(2);
const blocks = [...fs.readFileSync(readme, 'utf8').matchAll(/```ts\n\/\/ (src\/[\w./-]+)\n([\s\S]*?)```/g)];
if (blocks.length < 3) throw new Error(`expected the quick start's 3 files in the README, found ${blocks.length}`);
for (const [, file, body] of blocks) fs.writeFileSync(`${app}/${file}`, `// ${file}\n${body}`);
console.log(`verify-package: quick start files: ${blocks.map((block) => block[1]).join(', ')}`);
NODE

echo "verify-package: installing the tarball into a fresh app"
(cd "$app" && npm install --no-audit --no-fund --loglevel=error \
  "$tarball" \
  "@nestjs/common@$(version_of @nestjs/common)" "@nestjs/core@$(version_of @nestjs/core)" \
  "@nestjs/platform-express@$(version_of @nestjs/platform-express)" \
  "reflect-metadata@$(version_of reflect-metadata)" "rxjs@$(version_of rxjs)" \
  "typescript@$(version_of typescript)" "@types/node@$(version_of @types/node)" >/dev/null)
(cd "$app" && npx tsc -p tsconfig.json)

echo "verify-package: starting the app on 127.0.0.1:$port"
(cd "$app" && SESSION_SECRET="verify-package-only-secret-0123456789abcdef" PORT=$port node dist/main.js >"$work/app.log" 2>&1) &
app_pid=$!

node - "$port" <<'NODE'
const port = process.argv[2];
const base = `http://127.0.0.1:${port}`;
const expect = (cond, what) => { if (!cond) { throw new Error(`verify-package: ${what}`); } };
(async () => {
  for (let i = 0; ; i++) {
    try { await fetch(`${base}/profile`); break; } catch { if (i > 100) throw new Error('app did not start'); await new Promise((r) => setTimeout(r, 100)); }
  }
  let res = await fetch(`${base}/profile`);
  expect(res.status === 401, `anonymous /profile should be 401, got ${res.status}`);
  res = await fetch(`${base}/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'demo', password: 'wrong' }) });
  expect(res.status === 401, `wrong password should be 401, got ${res.status}`);
  res = await fetch(`${base}/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'demo', password: 'demo-password' }) });
  expect(res.status === 200, `login should be 200, got ${res.status}`);
  const setCookie = res.headers.get('set-cookie') ?? '';
  expect(/^sid=[\w-]{43}\.[\w-]{43}; Path=\/; HttpOnly; SameSite=Lax$/.test(setCookie), `unexpected Set-Cookie: ${setCookie}`);
  const cookie = setCookie.split(';')[0];
  res = await fetch(`${base}/profile`, { headers: { cookie } });
  const body = await res.json();
  expect(res.status === 200 && body.visits === 1 && body.user.id === 'demo', `profile: ${res.status} ${JSON.stringify(body)}`);
  res = await fetch(`${base}/profile`, { headers: { cookie } });
  expect((await res.json()).visits === 2, 'the visit counter should persist');
  res = await fetch(`${base}/logout`, { method: 'POST', headers: { cookie } });
  expect(res.status === 204 && /Max-Age=0/.test(res.headers.get('set-cookie') ?? ''), 'logout should expire the cookie');
  res = await fetch(`${base}/profile`, { headers: { cookie } });
  expect(res.status === 401, `a replayed cookie after logout should be 401, got ${res.status}`);
  console.log('verify-package: OK: the packed library works in a fresh app as the README shows');
})().catch((error) => { console.error(error.message); process.exit(1); });
NODE
