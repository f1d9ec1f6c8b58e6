// The operators' endpoints (ADMIN_TOKEN, SESSION_DIRECTORY=on) end to end
// under wrangler dev, over HTTP and through the CLI (`session-gate sessions`
// and `end-session`): list a user's sessions, end one (refused at once),
// end all (revoke-user: the directory's epoch and the `user:` key in KV);
// 401 without the token, 403 with a wrong one or from a browser, 404 when
// the token is unset or the directory is off.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { startGate, startOrigin, keygen, setCookies, rememberSecret } from "./harness.mjs";

const COOKIE = "__Host-session";
const UA = "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0";
const TOKEN = crypto.randomBytes(32).toString("hex");
rememberSecret(TOKEN);

const fingerprint = (cookie) => {
  const sid = JSON.parse(Buffer.from(cookie.split(".")[2], "base64url").toString("utf8")).sid;
  return crypto.createHash("sha256").update(sid).digest("hex").slice(0, 32);
};

function respond(req) {
  const url = new URL(req.url, "http://origin.invalid");
  if (url.pathname === "/login" && req.method === "POST") {
    return { status: 303, headers: { "X-Session-Login": url.searchParams.get("user"), Location: "/app" } };
  }
  return undefined;
}

describe("the operators' endpoints and CLI", () => {
  let origin, gate, noToken, off;
  before(async () => {
    origin = await startOrigin(respond);
    const keys = await keygen("k1");
    const on = { ORIGIN_URL: origin.url, SESSION_DIRECTORY: "on" };
    [gate, noToken, off] = await Promise.all([
      startGate({ name: "admin", vars: on, secrets: { SESSION_KEYS: keys, ADMIN_TOKEN: TOKEN } }),
      startGate({ name: "admin-unset", vars: on, secrets: { SESSION_KEYS: keys } }),
      startGate({ name: "admin-off", vars: { ORIGIN_URL: origin.url }, secrets: { SESSION_KEYS: keys, ADMIN_TOKEN: TOKEN } }),
    ]);
  });
  after(async () => {
    await Promise.all([gate?.stop(), noToken?.stop(), off?.stop()]);
    await origin?.close();
  });

  async function login(user) {
    const res = await gate.fetch(`/login?user=${user}`, { method: "POST", headers: { "user-agent": UA } });
    await res.arrayBuffer();
    assert.equal(res.status, 303);
    return setCookies(res)[COOKIE].value;
  }
  async function page(cookie) {
    const res = await gate.fetch("/app/page", { headers: { cookie: `${COOKIE}=${cookie}` } });
    await res.arrayBuffer();
    return res.status;
  }
  /** An operator's request as a program sends it (node:http: no Origin, no Sec-Fetch-*). */
  async function admin(g, endpoint, body, headers = { authorization: `Bearer ${TOKEN}` }) {
    const res = await g.raw(`/.session-gate/admin/${endpoint}`, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: JSON.stringify(body),
    });
    return { ...res, json: res.status === 200 ? JSON.parse(res.body) : undefined };
  }
  /** The CLI against this gate; resolves to { code, stdout, stderr }. */
  async function cli(g, args, env = {}) {
    try {
      const { stdout, stderr } = await g.cli([...args, "--gate", g.url], { env });
      return { code: 0, stdout, stderr };
    } catch (e) {
      return { code: e.code, stdout: e.stdout, stderr: e.stderr };
    }
  }

  it("lists a user's sessions (no session is current), and nobody else's", async () => {
    const a = await login("alice");
    const b = await login("alice");
    await login("bob");
    const res = await admin(gate, "sessions", { sub: "alice" });
    assert.equal(res.status, 200);
    assert.equal(res.headers["cache-control"], "no-store");
    assert.equal(res.headers["access-control-allow-origin"], undefined);
    assert.deepEqual(res.json.sessions.map((s) => [s.id, s.current, s.agent]),
      [[fingerprint(a), false, "Firefox on Linux"], [fingerprint(b), false, "Firefox on Linux"]]);
    for (const s of res.json.sessions) assert.deepEqual(Object.keys(s), ["id", "created", "last_seen", "country", "agent", "current"]);
    assert.deepEqual((await admin(gate, "sessions", { sub: "nobody" })).json, { sessions: [] });
    const line = await gate.waitForLog((l) => l.includes('"reason":"admin_list"'));
    assert.ok(line && JSON.parse(line).sub === "alice" && !line.includes(TOKEN), line);
  });

  it("refuses a missing token (401), a wrong one or a browser (403), other methods (405) and bad bodies (400)", async () => {
    const missing = await admin(gate, "sessions", { sub: "alice" }, {});
    assert.equal(missing.status, 401);
    assert.equal(missing.headers["www-authenticate"], "Bearer");
    const wrong = await admin(gate, "sessions", { sub: "alice" }, { authorization: `Bearer ${crypto.randomBytes(32).toString("hex")}` });
    assert.equal(wrong.status, 403);
    assert.deepEqual(JSON.parse(wrong.body), { error: "forbidden", reason: "token" });
    // A session cookie is no credential here.
    const a = await login("carol");
    assert.equal((await admin(gate, "sessions", { sub: "carol" }, { cookie: `${COOKIE}=${a}` })).status, 401);
    // A browser page, even one holding the token, cannot use it: the
    // preflight and the request itself are refused, with no CORS header.
    for (const h of [{ origin: "https://evil.example" }, { "sec-fetch-site": "cross-site" }, { origin: gate.url }]) {
      const res = await admin(gate, "sessions", { sub: "alice" }, { authorization: `Bearer ${TOKEN}`, ...h });
      assert.equal(res.status, 403, JSON.stringify(h));
      assert.deepEqual(JSON.parse(res.body), { error: "forbidden", reason: "browser" });
    }
    const preflight = await gate.raw("/.session-gate/admin/sessions", {
      method: "OPTIONS",
      headers: { origin: "https://evil.example", "access-control-request-method": "POST", "access-control-request-headers": "authorization" },
    });
    assert.equal(preflight.status, 403);
    assert.equal(preflight.headers["access-control-allow-origin"], undefined);
    const get = await gate.raw("/.session-gate/admin/sessions", { headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(get.status, 405);
    assert.equal(get.headers.allow, "POST");
    assert.equal((await admin(gate, "sessions", { sub: "" })).status, 400);
    assert.equal((await admin(gate, "end-session", { sub: "alice", id: "others" })).status, 400);
    assert.equal((await admin(gate, "users", { sub: "alice" })).status, 404);
  });

  it("ends one session, refused on its next request; the other lives", async () => {
    const a = await login("dave");
    const b = await login("dave");
    assert.equal(await page(a), 200);
    const res = await admin(gate, "end-session", { sub: "dave", id: fingerprint(a) });
    assert.equal(res.status, 200);
    assert.deepEqual(res.json, { ended: [fingerprint(a)] });
    assert.equal(await page(a), 401);
    assert.equal(await page(b), 200);
    // Another user's fingerprint ends nothing.
    const other = await login("erin");
    assert.deepEqual((await admin(gate, "end-session", { sub: "dave", id: fingerprint(other) })).json, { ended: [] });
    assert.equal(await page(other), 200);
  });

  it("the CLI lists, ends one and ends all (revoke-user: directory and KV)", async () => {
    const a = await login("frank");
    const b = await login("frank");
    const listed = await cli(gate, ["sessions", "frank"]);
    assert.equal(listed.code, 0, listed.stderr);
    const rows = listed.stdout.trim().split("\n");
    assert.equal(rows[0], "fingerprint\tcreated\tlast seen\tcountry\tagent");
    assert.deepEqual(rows.slice(1).map((r) => r.split("\t")[0]), [fingerprint(a), fingerprint(b)]);
    assert.match(rows[1], /\t\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\t\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\t([A-Z]{2}|-)\tFirefox on Linux$/);
    const json = await cli(gate, ["sessions", "frank", "--json"]);
    assert.equal(JSON.parse(json.stdout).sessions.length, 2);

    const one = await cli(gate, ["end-session", "frank", fingerprint(a)]);
    assert.equal(one.code, 0, one.stderr);
    assert.equal(one.stdout.trim(), fingerprint(a));
    assert.equal(await page(a), 401);
    assert.equal(await page(b), 200);
    const again = await cli(gate, ["end-session", "frank", fingerprint(a)]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /no live session with that fingerprint/);

    const all = await cli(gate, ["end-session", "frank", "all"]);
    assert.equal(all.code, 0, all.stderr);
    assert.equal(all.stdout.trim(), fingerprint(b));
    assert.match(all.stderr, /revoked every session of frank/);
    assert.equal(await page(b), 401);
    const epoch = await gate.kvGet("user:frank");
    assert.ok(Number(epoch) > Date.now() - 60_000, `user:frank = ${epoch}`);
    const line = await gate.waitForLog((l) => l.includes('"reason":"admin_end_all"'));
    assert.ok(line && JSON.parse(line).sub === "frank" && JSON.parse(line).status === 200, line);
    // A later login is a new session, untouched by the epoch.
    await new Promise((r) => setTimeout(r, 5));
    assert.equal(await page(await login("frank")), 200);
  });

  it("the CLI takes the token from the environment or a file, never an argument, and says what a refusal means", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "session-gate-admin-token-"));
    try {
      const file = path.join(dir, "token");
      fs.writeFileSync(file, `${TOKEN}\n`, { mode: 0o600 });
      const fromFile = await cli(gate, ["sessions", "alice", "--token-file", file], { ADMIN_TOKEN: "" });
      assert.equal(fromFile.code, 0, fromFile.stderr);
      const wrongToken = crypto.randomBytes(32).toString("hex");
      const wrong = await cli(gate, ["sessions", "alice"], { ADMIN_TOKEN: wrongToken });
      assert.equal(wrong.code, 1);
      assert.match(wrong.stderr, /refused the token \(403\)/);
      assert.ok(!wrong.stderr.includes(wrongToken));
      const short = await cli(gate, ["sessions", "alice"], { ADMIN_TOKEN: "too-short" });
      assert.equal(short.code, 1);
      assert.match(short.stderr, /ADMIN_TOKEN: must be at least 32 characters/);
      const argv = await cli(gate, ["sessions", "alice", "--token", TOKEN]);
      assert.equal(argv.code, 2);
      assert.match(argv.stderr, /unknown option --token/);
      const plain = await gate.cli(["sessions", "alice", "--gate", "http://gate.example.com"]).catch((e) => e);
      assert.equal(plain.code, 2);
      assert.match(plain.stderr, /https only/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("does not exist (404) without ADMIN_TOKEN or with the directory off", async () => {
    for (const g of [noToken, off]) {
      for (const [endpoint, body] of [["sessions", { sub: "alice" }], ["end-session", { sub: "alice", id: "all" }]]) {
        const res = await admin(g, endpoint, body);
        assert.equal(res.status, 404, `${g === off ? "off" : "unset"} ${endpoint}`);
        assert.deepEqual(JSON.parse(res.body), { error: "not_found" });
      }
      const viaCli = await cli(g, ["sessions", "alice"], { ADMIN_TOKEN: TOKEN });
      assert.equal(viaCli.code, 1);
      assert.match(viaCli.stderr, /no operators' endpoints/);
    }
    assert.equal(await off.kvGet("user:alice"), null);
  });
});
