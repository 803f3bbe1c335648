#!/usr/bin/env bash
# Runs the example app's e2e suites once per store (SESSION_STORE=...), against the real servers
# on 127.0.0.1, and in client-side mode (SESSION_STORE=cookie, revocation list on Redis).
# `npm test` runs them on the memory store.
set -euo pipefail
cd "$(dirname "$0")/.."
stores=${*:-redis postgres mysql memcached connect-redis connect-pg-simple cookie}
suites=(test/e2e/auth-flow.e2e-spec.ts test/e2e/session-cookie.e2e-spec.ts test/e2e/login-input.e2e-spec.ts test/e2e/example-health.e2e-spec.ts test/e2e/account-sessions.e2e-spec.ts test/e2e/example-graphql-sockets.e2e-spec.ts)
for store in $stores; do
  echo "== example app e2e on SESSION_STORE=$store"
  run=("${suites[@]}")
  # The attack suites (test/security) run on the memory store in npm test; client-side mode is the
  # other mode they must hold in.
  [ "$store" = cookie ] && run+=(test/security)
  SESSION_STORE=$store REVOCATION_STORE=${REVOCATION_STORE:-redis} npx jest "${run[@]}" --selectProjects e2e
done
