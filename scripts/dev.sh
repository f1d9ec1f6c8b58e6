#!/usr/bin/env bash
# `make dev`: a dev key in .dev.vars (created once, git-ignored), the demo
# origin on 127.0.0.1:8788, and the gate under `wrangler dev` on
# 127.0.0.1:8787 with a local KV namespace (.wrangler/state).
set -euo pipefail
cd "$(dirname "$0")/.."
CLI=target/debug/session-gate

if ! grep -qs '^SESSION_KEYS=' .dev.vars; then
  echo "SESSION_KEYS=$($CLI keygen --kid dev)" >> .dev.vars
  echo "[dev] wrote a fresh dev key to .dev.vars"
fi

node scripts/demo-origin.mjs &
origin_pid=$!
trap 'kill $origin_pid 2>/dev/null || true' EXIT INT TERM

cat <<TXT
[dev] the gate:        http://127.0.0.1:8787  (in front of the demo origin on 127.0.0.1:8788)
[dev] mint a cookie:   $CLI mint --sub alice      (keys from .dev.vars)
[dev] try it:          curl -H "Cookie: __Host-session=\$($CLI mint --sub alice)" http://127.0.0.1:8787/
[dev] revoke a user:   $CLI revoke-user alice --local -- --env dev
TXT
npx wrangler dev --env dev --ip 127.0.0.1 --port 8787
