// The directory's deadline, end to end: a gate whose user objects never
// answer must not hang. Every object call has a deadline of DIRECTORY_CHECK
// + 3 s (directory::settings::CALL_GRACE); past it a request's check is a
// failed read under KV_FAILURE (closed: 503) and a change that could not be
// recorded is answered 503 too. The owner of the directory is
// tests/e2e/hung-directory.mjs, whose objects take every call and answer
// none. The deadline is a worker::Delay started beside the object call: this
// test is what fails if that timer can no longer wake the request (a
// synchronous first poll whose waker goes nowhere).
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { ROOT, keygen } from "./harness.mjs";
import { startLoginOrigin, startPair } from "../../bench/bound.mjs";

const CHECK_S = 1;
const GRACE_MS = 3000;

describe("the directory's deadline", () => {
  let origin, pair;
  before(async () => {
    origin = await startLoginOrigin();
    pair = await startPair({
      origin, keys: await keygen("k1"), checks: [CHECK_S], mainA: path.join(ROOT, "tests", "e2e", "hung-directory.mjs"),
    });
  });
  after(async () => {
    await pair?.stop();
    await origin?.close();
  });

  /** One request through gate B: its status and how long it took. */
  async function timed(init, p = "/app/page") {
    const start = Date.now();
    const res = await pair.bs[0].fetch(p, { ...init, signal: AbortSignal.timeout(30_000) });
    await res.arrayBuffer();
    return { status: res.status, ms: Date.now() - start };
  }

  it("a request whose object never answers gets 503 after DIRECTORY_CHECK + 3 s, not a hang", async () => {
    const cookie = await pair.bs[0].mint({ sub: "hana" });
    const { status, ms } = await timed({ headers: { cookie: `__Host-session=${cookie}` } });
    assert.equal(status, 503);
    assert.ok(ms >= CHECK_S * 1000 + GRACE_MS - 250, `answered after ${ms} ms, before the deadline`);
    assert.ok(ms < CHECK_S * 1000 + GRACE_MS + 10_000, `answered after ${ms} ms`);
    assert.ok(await pair.bs[0].waitForLog((l) => l.includes('"kv_failure"')), "logged as a failed read");
  });

  it("a login that cannot be recorded gets 503 after the deadline, without a session", async () => {
    const start = Date.now();
    const res = await pair.bs[0].fetch("/login?user=hana", { method: "POST", signal: AbortSignal.timeout(30_000) });
    await res.arrayBuffer();
    const ms = Date.now() - start;
    assert.equal(res.status, 503);
    assert.ok(ms >= CHECK_S * 1000 + GRACE_MS - 250, `answered after ${ms} ms`);
    assert.ok(!(res.headers.get("set-cookie") ?? "").includes("__Host-session=v"), "no session cookie");
  });
});
