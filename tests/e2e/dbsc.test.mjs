// Device-bound sessions (DEVICE_BINDING=on, docs/device-binding.md) end to
// end through `wrangler dev`: a client that speaks DBSC with a P-256 key
// registers, keeps its session through refreshes, and a copy of its cookie
// without the key dies after BOUND_COOKIE_TTL with the origin seeing
// nothing. Proofs the gate must refuse: wrong alg, `none`, no jwk, wrong
// jti, bad signature, a point off the curve (WebCrypto's importKey), a
// wrong key, a replayed challenge, an ended or revoked session.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { startGate, startOrigin, keygen } from "./harness.mjs";
import { DbscBrowser, newKey, proof, parseRegistration } from "./dbsc-client.mjs";

const COOKIE = "__Host-session";
const BINDING = "__Secure-session-dbsc";
const TTL = 2;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function respond(req) {
  const url = new URL(req.url, "http://origin.invalid");
  if (url.pathname === "/login" && req.method === "POST") {
    return { status: 303, headers: { "X-Session-Login": url.searchParams.get("user") ?? "alice", Location: "/app" } };
  }
  if (url.pathname === "/app/logout") return { status: 200, headers: { "X-Session-Logout": "1" }, body: "bye" };
  if (url.pathname === "/app/rotate") return { status: 200, headers: { "X-Session-Rotate": "1" }, body: "rotated" };
  return undefined;
}

describe("device-bound sessions (DBSC) with a P-256 protocol client", () => {
  let origin;
  let gate;
  before(async () => {
    origin = await startOrigin(respond);
    gate = await startGate({
      name: "dbsc",
      // REVOCATION_CACHE=0: a revocation is seen by the next request.
      vars: { ORIGIN_URL: origin.url, DEVICE_BINDING: "on", BOUND_COOKIE_TTL: String(TTL), REVOCATION_CACHE: "0" },
      secrets: { SESSION_KEYS: await keygen("k1") },
    });
  });
  after(async () => {
    await gate?.stop();
    await origin?.close?.();
  });

  /** A browser that signed in as `user` and holds the login's registration header. */
  async function signIn(user = "alice") {
    const browser = new DbscBrowser(gate);
    const res = await browser.send(`/login?user=${user}`, { method: "POST" });
    assert.equal(res.status, 303);
    const header = res.headers.get("secure-session-registration");
    assert.ok(parseRegistration(header), `registration header: ${header}`);
    return { browser, header };
  }

  it("registers, keeps the session through refreshes, and a copy without the key dies after the TTL", async () => {
    const { browser, header } = await signIn();
    const reg = await browser.register(header);
    assert.equal(reg.status, 200, reg.body);
    assert.equal(reg.res.headers.get("cache-control"), "no-store");
    const instructions = JSON.parse(reg.body);
    assert.equal(instructions.refresh_url, "/.session-gate/dbsc/refresh");
    assert.equal(instructions.scope.include_site, false);
    assert.equal(instructions.scope.origin, gate.url);
    assert.deepEqual(instructions.credentials, [
      { type: "cookie", name: COOKIE, attributes: "Path=/; Secure; HttpOnly; SameSite=Lax" },
    ]);
    const cookies = reg.res.headers.getSetCookie();
    const main = cookies.find((c) => c.startsWith(`${COOKIE}=v2.`));
    assert.ok(main, cookies.join("\n"));
    assert.match(main, new RegExp(`Max-Age=${TTL}$`));
    assert.ok(cookies.some((c) => c.startsWith(`${BINDING}=v2.`) && c.includes("Path=/.session-gate/dbsc;")));

    // The stolen copy: the bound cookie alone, without the key.
    const stolen = browser.cookies.get(COOKIE).value;
    const before = origin.requests.length;
    let res = await gate.fetch("/app/data", { headers: { cookie: `${COOKIE}=${stolen}` } });
    assert.equal(res.status, 200, "a fresh copy works until the TTL");
    await res.text();

    for (let round = 0; round < 3; round++) {
      await sleep(TTL * 1000 + 300);
      res = await browser.send("/app/data");
      assert.equal(res.status, 401, "the browser's own cookie expired too (Max-Age)");
      await res.text();
      const refresh = await browser.refresh();
      assert.equal(refresh.status, 200, `refresh ${round}: ${refresh.body}`);
      assert.equal(JSON.parse(refresh.body).session_identifier, instructions.session_identifier);
      res = await browser.send("/app/data");
      assert.equal(res.status, 200, `after refresh ${round}`);
      await res.text();
    }

    // The copy, replayed with a plain HTTP client after the TTL: refused,
    // and the origin never saw it.
    const seen = origin.requests.length;
    res = await gate.fetch("/app/data", { headers: { cookie: `${COOKIE}=${stolen}` } });
    assert.equal(res.status, 401);
    assert.equal((await res.json()).reason, "expired");
    res = await gate.fetch("/app/page", { headers: { cookie: `${COOKIE}=${stolen}`, accept: "text/html" } });
    assert.equal(res.status, 302);
    assert.equal(origin.requests.length, seen, "the origin saw nothing of the expired copy");
    assert.ok(origin.requests.length > before);
    const line = await gate.waitForLog((l) => l.includes('"reason":"bound_expired"'));
    assert.ok(line, "the log names the cause");
  });

  it("refuses a refresh signed by another key, and a replayed challenge, with no cookie", async () => {
    const { browser, header } = await signIn();
    assert.equal((await browser.register(header)).status, 200);
    const wrong = await browser.refresh({ signWith: newKey() });
    assert.equal(wrong.status, 401, wrong.body);
    assert.deepEqual(wrong.res.headers.getSetCookie(), []);

    // A successful refresh, its proof captured; replayed with the new
    // binding cookie, it answers an older generation: 403, a new
    // challenge, no cookie.
    const oldBinding = browser.cookies.get(BINDING).value;
    const id = { "sec-secure-session-id": `"${browser.session.session_identifier}"` };
    const first = await browser.send("/.session-gate/dbsc/refresh", { method: "POST", headers: id });
    const challenge = /^"([^"]+)"/.exec(first.headers.get("secure-session-challenge"))[1];
    const captured = proof(browser.key, challenge, { jwk: null });
    const ok = await browser.send("/.session-gate/dbsc/refresh", { method: "POST", headers: { ...id, "secure-session-response": `"${captured}"` } });
    assert.equal(ok.status, 200, await ok.text());
    const replay = await browser.send("/.session-gate/dbsc/refresh", { method: "POST", headers: { ...id, "secure-session-response": `"${captured}"` } });
    assert.equal(replay.status, 403);
    assert.deepEqual(replay.headers.getSetCookie(), []);
    assert.ok(replay.headers.get("secure-session-challenge"));

    // The stated limit of a stateless challenge: with the OLD binding
    // cookie, the captured proof still answers its generation within the
    // challenge's minute (docs/device-binding.md, "Replay").
    const withOld = await gate.fetch("/.session-gate/dbsc/refresh", {
      method: "POST",
      headers: { ...id, cookie: `${BINDING}=${oldBinding}`, "secure-session-response": `"${captured}"` },
    });
    assert.equal(withOld.status, 200, "documented: one replay with the older binding cookie, within the minute");
  });

  it("refuses a refresh once the session ended (logout) or was revoked", async () => {
    const { browser, header } = await signIn("bob");
    assert.equal((await browser.register(header)).status, 200);
    const kept = browser.cookies.get(BINDING).value;
    const res = await browser.send("/app/logout");
    assert.equal(res.status, 200);
    await res.text();
    // The logout cleared the binding cookie; a copy of it is refused.
    assert.equal(browser.cookieHeader("/.session-gate/dbsc/refresh").includes(BINDING), false);
    browser.cookies.set(BINDING, { value: kept, path: "/.session-gate/dbsc", expires: Infinity });
    const after = await browser.refresh();
    assert.equal(after.status, 401);

    const second = await signIn("carol");
    assert.equal((await second.browser.register(second.header)).status, 200);
    await gate.kvPut("user:carol", String(Date.now() + 1000));
    const revoked = await second.browser.refresh();
    assert.equal(revoked.status, 401);
  });

  it("refuses malformed and forged registrations, a point off the curve included", async () => {
    const key = newKey();
    const offCurve = { ...key.jwk, y: Buffer.from(Buffer.from(key.jwk.y, "base64url").map((b, i) => (i === 31 ? b ^ 1 : b))).toString("base64url") };
    const cases = [
      ["wrong alg", (c) => proof(key, c, { alg: "RS256" }), 400],
      ["alg none", (c) => proof(key, c, { alg: "none" }), 400],
      ["wrong typ", (c) => proof(key, c, { typ: "JWT" }), 400],
      ["missing jwk", (c) => proof(key, c, { jwk: null }), 400],
      ["wrong jti", () => proof(key, "AAAA"), 400],
      ["bad signature", (c) => proof(key, c, { signer: newKey().privateKey }), 401],
      ["point off the curve", (c) => proof(key, c, { jwk: offCurve }), 401],
    ];
    for (const [what, make, status] of cases) {
      const { browser, header } = await signIn();
      const { challenge, path } = parseRegistration(header);
      const res = await browser.send(path, { method: "POST", headers: { "secure-session-response": `"${make(challenge)}"` } });
      assert.equal(res.status, status, `${what}: ${await res.text()}`);
      assert.deepEqual(res.headers.getSetCookie(), [], what);
    }
    // Extra claims are tolerated.
    const { browser, header } = await signIn();
    const reg = await browser.register(header, { extra: { aud: "x", iat: 1, authorization: null } });
    assert.equal(reg.status, 200, reg.body);
  });
});
