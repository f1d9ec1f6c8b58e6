#!/usr/bin/env bash
# `make dev`: a dev key and ORIGIN_SECRET in .dev.vars (created once,
# git-ignored), the demo
# origin (demo-origin/, built by make) on 127.0.0.1:8788, and the gate under
# `wrangler dev` on 127.0.0.1:8787 with a local KV namespace (.wrangler/state).
set -euo pipefail
cd "$(dirname "$0")/.."
CLI=target/debug/session-gate
ORIGIN=target/debug/demo-origin

if ! grep -qs '^SESSION_KEYS=' .dev.vars; then
  echo "SESSION_KEYS=$($CLI keygen --kid dev)" >> .dev.vars
  echo "[dev] wrote a fresh dev key to .dev.vars"
fi
# The secret the gate signs assertions with and checks handshakes with
# (HANDSHAKE_AUTH is on by default with it); the demo origin signs with it.
if ! grep -qs '^ORIGIN_SECRET=' .dev.vars; then
  echo "ORIGIN_SECRET=$($CLI keygen --kid origin | cut -d: -f2)" >> .dev.vars
  echo "[dev] wrote a fresh ORIGIN_SECRET to .dev.vars"
fi
# The operators' token for `session-gate sessions` and `end-session`, which
# read it from this .dev.vars too (the endpoints exist with the directory on).
if ! grep -qs '^ADMIN_TOKEN=' .dev.vars; then
  echo "ADMIN_TOKEN=$($CLI keygen --kid admin | cut -d: -f2)" >> .dev.vars
  echo "[dev] wrote a fresh ADMIN_TOKEN to .dev.vars"
fi
origin_secret=$(grep '^ORIGIN_SECRET=' .dev.vars | tail -n 1 | cut -d= -f2- | sed -e 's/^"//' -e 's/"$//')

DEMO_ORIGIN_PORT=8788 ORIGIN_SECRET="$origin_secret" "$ORIGIN" &
origin_pid=$!
trap 'kill $origin_pid 2>/dev/null || true' EXIT INT TERM
# The demo origin prints its users once it listens; the banner follows them.
for _ in $(seq 50); do
  if (exec 3<>/dev/tcp/127.0.0.1/8788) 2>/dev/null; then break; fi
  if ! kill -0 "$origin_pid" 2>/dev/null; then echo "[dev] the demo origin did not start" >&2; exit 1; fi
  sleep 0.1
done

cat <<TXT
[dev] open:            http://127.0.0.1:8787/  (sign in as alice/alice, bob/bob or admin/admin)
[dev] the gate:        http://127.0.0.1:8787  (in front of the demo origin on 127.0.0.1:8788)
[dev] mint a cookie:   $CLI mint --sub alice      (keys from .dev.vars)
[dev] try it:          curl -H "Cookie: __Host-session=\$($CLI mint --sub alice)" http://127.0.0.1:8787/
[dev] revoke a user:   $CLI revoke-user alice --local -- --env dev
[dev] your sessions:   http://127.0.0.1:8787/sessions  (SESSION_DIRECTORY=on: sign in from two browsers, end one from the other)
[dev] operators:       $CLI sessions alice --gate http://127.0.0.1:8787   (token from .dev.vars)
[dev] the Assistant:   http://127.0.0.1:8787/assistant  (BOUND_IDS=path:/assistant/threads/{thread}: try bob's conversation as alice)
TXT
npx wrangler dev --env dev --ip 127.0.0.1 --port 8787
