#!/usr/bin/env bash
# The browser tests (make test-browser), one file at a time.
#
# tests/browser/dbsc.test.mjs spent about 130 of its ~140 s waiting for a
# bound cookie to expire (Chromium's signing quota kept BOUND_COOKIE_TTL
# long; the test now turns the quota off and waits 8 s). It ran beside the
# other files for a while, to save those two minutes, and CI failed on it:
# a page load sometimes never finished. Reproduced here in
# 4 of 21 rounds of pages.test.mjs beside dbsc.test.mjs on a loaded 2-core
# machine, and in 1 of 6 rounds alone while a cargo build ran. Each time the
# browser's request (an image, a script, once the first page) had been read
# from the socket by wrangler's dev proxy (the workerd process on the public
# port) and was never passed on: the gate's Worker, instrumented to log every
# request it receives, never saw it, and the demo origin never got it. That
# is below the gate and not ours to fix. One stack at a time makes it rarer
# but not gone: CI, running the files one at a time on a quiet machine,
# stalled once the same way, on the first page load after the assistant's
# event stream, where most of the stalls here were too. So the files run one
# at a time, and tests/browser/pages.test.mjs loads its pages through
# gotoPastDevProxyStall (stack.mjs): 15 s for `load`, then once more, with a
# line on stderr saying so; a second stall still fails. Every file's signIn
# does the same for the sign-in form (a stall was seen there once, under load).
set -euo pipefail
cd "$(dirname "$0")/.."
node --test --test-concurrency=1 tests/browser/*.test.mjs
