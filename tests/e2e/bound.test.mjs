// The bound of issue 12, proved end to end: a session ended anywhere is
// refused at every location within DIRECTORY_CHECK plus one round trip to
// the user's object. Gate A owns the directory; gates B0 (DIRECTORY_CHECK=0)
// and B1 (DIRECTORY_CHECK=1) are other `wrangler dev` processes (separate
// isolates) bound to A's class through `script_name`. The session is ended
// through A with the user's revoke endpoint, which writes only the
// directory (not KV), so only the directory can make B0 and B1 refuse. Both
// accepted it just before; both must refuse it within DIRECTORY_CHECK plus
// a generous margin for a loaded machine. bench/bound.mjs measures the same
// thing over many trials, beside the KV-only bound.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { keygen } from "./harness.mjs";
import { endBy, login, race, startLoginOrigin, startPair, status } from "../../bench/bound.mjs";

/** Added to DIRECTORY_CHECK: the object's round trip on a loaded 2-core machine, and then some. */
const MARGIN_MS = 3000;

describe("two gates, one directory: the bound", () => {
  let origin, pair;
  before(async () => {
    origin = await startLoginOrigin();
    pair = await startPair({ origin, keys: await keygen("k1"), checks: [0, 1] });
  });
  after(async () => {
    await pair?.stop();
    await origin?.close();
  });

  it("a session ended through A is refused by B0 and B1 within DIRECTORY_CHECK + one round trip", async () => {
    const [b0, b1] = pair.bs;
    const victim = await login(pair.a, "grace");
    const other = await login(pair.a, "grace");
    // The login was recorded in the one object: B0 and B1 know the session.
    assert.equal(await status(b0, victim), 200);
    assert.equal(await status(b1, victim), 200);
    const [r0, r1] = await race([b0, b1], victim, () => endBy(pair.a, "revoke", victim, other), { limitMs: 10_000 });
    for (const [name, r, check] of [["B0", r0, 0], ["B1", r1, 1000]]) {
      // It was accepting just before the end (so a refusal is news, not a
      // gate that refuses everything), ...
      assert.ok(r.acceptedBefore !== null && r.acceptedBefore < 1000, `${name} accepted just before: ${JSON.stringify(r)}`);
      // ... and refused within the bound (null: it kept a stale answer).
      assert.ok(r.refusedAfter !== null, `${name} never refused: ${JSON.stringify(r)}`);
      assert.ok(r.refusedAfter <= check + MARGIN_MS, `${name} refused after ${r.refusedAfter} ms`);
      // Never accepted later than DIRECTORY_CHECK after the end returned.
      assert.ok(r.staleAfter === null || r.staleAfter <= check + MARGIN_MS, `${name} stale for ${r.staleAfter} ms`);
    }
    // B0 relies on no earlier answer: it refuses the very next request
    // that starts after the end returned (one round trip).
    assert.ok(r0.staleAfter === null || r0.staleAfter < 500, `B0 accepted ${r0.staleAfter} ms after the end`);
    // The second session of the same user lives on at both.
    assert.equal(await status(b0, other), 200);
    assert.equal(await status(b1, other), 200);
  });

  it("an ended session stays refused everywhere, and a logout through B is refused at A", async () => {
    const [b0, b1] = pair.bs;
    const s = await login(b1, "heidi");
    assert.equal(await status(pair.a, s), 200);
    assert.equal(await status(b0, s), 200);
    await endBy(b1, "logout", s);
    assert.equal(await status(pair.a, s), 401, "A (DIRECTORY_CHECK=0) refuses at once");
    await new Promise((r) => setTimeout(r, 1100));
    for (const g of [pair.a, b0, b1]) assert.equal(await status(g, s), 401);
  });
});
