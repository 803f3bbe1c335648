#!/usr/bin/env bash
# Packs the library with `npm pack`, installs the tarball into a brand-new Nest app outside this
# repository whose source files are the code blocks of the library README's quick start, builds
# it, starts it and runs the login / profile / logout flow against it; then the same on Fastify
# (the README's Fastify main.ts in place of Nest's).
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
# The listing is read whole first: `grep -q` stopping early would fail `tar` with SIGPIPE under
# pipefail (turning a found match into "not found").
listing=$(tar -tzf "$tarball")
if grep -qE '\.spec\.|/src/' <<<"$listing"; then
  echo "verify-package: the tarball ships tests or sources" >&2
  exit 1
fi

# The subpath entries (their peers, the WebSocket packages, are not installed here: only shipped and typed).
for entry in socket.io ws; do
  for file in "dist/$entry.js" "dist/$entry.d.ts"; do
    if ! grep -qx "package/$file" <<<"$listing"; then
      echo "verify-package: the tarball lacks $file (the nest-session-auth/$entry entry)" >&2
      exit 1
    fi
  done
done

# Pin what the repository itself is tested with.
version_of() { node -p "require('$repo/node_modules/$1/package.json').version"; }

# One fresh app per HTTP platform: the quick start as the README gives it (Express), and the same
# files with the README's Fastify main.ts in place of Nest's.
build_app() {
  local platform=$1 app="$work/app-$1"
  mkdir -p "$app/src"
  cat > "$app/package.json" <<JSON
{ "name": "fresh-consumer-$platform", "private": true, "version": "0.0.0" }
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
  # The README's code, byte for byte: every ```ts block whose first line is `// src/<file>`, and
  # for Fastify the block whose first line is `// src/main.ts on Fastify ...` as src/main.ts.
  node - "$repo/libs/session/README.md" "$app" "$platform" <<'NODE'
const fs = require('node:fs');
const [readme, app, platform] = process.argv.slice(2);
const text = fs.readFileSync(readme, 'utf8');
const blocks = [...text.matchAll(/```ts\n\/\/ (src\/[\w./-]+)\n([\s\S]*?)```/g)];
if (blocks.length < 3) throw new Error(`expected the quick start's 3 files in the README, found ${blocks.length}`);
for (const [, file, body] of blocks) fs.writeFileSync(`${app}/${file}`, `// ${file}\n${body}`);
if (platform === 'fastify') {
  const fastify = /```ts\n(\/\/ src\/main\.ts on Fastify[^\n]*)\n([\s\S]*?)```/.exec(text);
  if (!fastify) throw new Error('expected a `// src/main.ts on Fastify` block in the README');
  fs.writeFileSync(`${app}/src/main.ts`, `${fastify[1]}\n${fastify[2]}`);
}
console.log(`verify-package: ${platform}: files ${blocks.map((block) => block[1]).join(', ')}${platform === 'fastify' ? ' (main.ts on Fastify)' : ''}`);
NODE

  echo "verify-package: $platform: installing the tarball into a fresh app"
  local platform_package="@nestjs/platform-$platform@$(version_of "@nestjs/platform-$platform")"
  (cd "$app" && npm install --no-audit --no-fund --loglevel=error \
    "$tarball" \
    "@nestjs/common@$(version_of @nestjs/common)" "@nestjs/core@$(version_of @nestjs/core)" \
    "$platform_package" \
    "reflect-metadata@$(version_of reflect-metadata)" "rxjs@$(version_of rxjs)" \
    "typescript@$(version_of typescript)" "@types/node@$(version_of @types/node)" >/dev/null)
  (cd "$app" && npx tsc -p tsconfig.json)
}

run_flow() {
  local platform=$1 app="$work/app-$1"
  echo "verify-package: $platform: starting the app on 127.0.0.1:$port"
  (cd "$app" && SESSION_SECRET="verify-package-only-secret-0123456789abcdef" PORT=$port node dist/main.js >"$work/app-$platform.log" 2>&1) &
  app_pid=$!
  node - "$port" "$platform" <<'NODE' || { cat "$work/app-$platform.log" >&2; exit 1; }
const [port, platform] = process.argv.slice(2);
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
  console.log(`verify-package: OK: the packed library works in a fresh ${platform} app as the README shows`);
})().catch((error) => { console.error(error.message); process.exit(1); });
NODE
  kill "$app_pid" 2>/dev/null || true
  wait "$app_pid" 2>/dev/null || true
  app_pid=""
}

for platform in express fastify; do
  build_app "$platform"
  run_flow "$platform"
done
