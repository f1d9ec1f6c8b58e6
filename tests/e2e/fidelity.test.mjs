// "In front of any origin", for real (issue 10): the origin sees the request
// as the client made it, apart from what the gate removes and adds. The gate
// runs beside the plainest pass-through Worker (tests/e2e/passthrough.js),
// both in front of the same recording origin, and each case compares what
// the origin and the client see through either.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import http from "node:http";
import { startGate, startOrigin, keygen, setCookies, socketRequest, wsConnect, ROOT } from "./harness.mjs";

const run = promisify(execFile);
const COOKIE = "__Host-session";
/** Header bytes outside UTF-8 (and outside ASCII): `caf\xe9 \xff\xfe`. */
const ODD = Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x20, 0xff, 0xfe]).toString("latin1");

/** Set once the origin is listening: its own URL, which apps write into redirects. */
let upstream = "";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
/** How long a long-lived connection may outlive its session here: REVOCATION_CACHE=0 gives the 1 s minimum interval, plus a KV read and slack. */
const LIFETIME_BOUND_MS = 3000;
const ABSOLUTE_TIMEOUT_S = 43_200;

function respond(req) {
  if (req.upgrade && req.url.startsWith("/private/ws")) return { echo: true };
  if (req.url.startsWith("/private/events")) {
    return {
      headers: { "content-type": "text/event-stream", "cache-control": "no-store" },
      stream: (res) => {
        const timer = setInterval(() => res.write("data: tick\n\n"), 200);
        // Cleared with the stream: a pending 60 s timer kept this file's
        // process alive for up to a minute after its last test.
        const limit = setTimeout(() => stop(), 60_000);
        const stop = () => { clearInterval(timer); clearTimeout(limit); res.end(); };
        res.on("close", stop);
      },
    };
  }
  if (req.url.startsWith("/public/absolute-urls")) {
    return {
      status: 302,
      headers: {
        location: `${upstream}/public/target?x=1`,
        "content-location": `${upstream}/public/doc`,
        link: `<${upstream}/public/p2>; rel=next, <https://cdn.example/x.js>; rel=preload`,
        refresh: `5; url=${upstream}/public/later`,
      },
    };
  }
  if (req.url.startsWith("/public/as-is") || req.url.startsWith("/private/as-is")) {
    // Nothing here for the gate to change: it has its Referrer-Policy, no
    // identity header, no session cookie, no URL to scrub.
    return {
      status: 201,
      headers: { "content-type": "text/plain", "referrer-policy": "no-referrer", "x-odd": ODD, "set-cookie": ["a=1; Path=/", "b=2; Path=/"] },
      body: "as is",
    };
  }
  if (req.url.startsWith("/public/odd-response")) {
    return { headers: { "content-type": "text/plain", "x-odd": ODD }, body: "odd" };
  }
  return undefined;
}

describe("origin fidelity (issue 10)", () => {
  const ctx = {};

  before(async () => {
    ctx.origin = await startOrigin(respond, { upgrade: true });
    upstream = ctx.origin.url;
    // A sign-in service apart from the app (LOGIN_ORIGIN_URL): it starts a
    // session with the handshake and sends the browser back with an
    // absolute URL of its own.
    ctx.signin = await startOrigin((req) => {
      if (req.url.startsWith("/login/finish")) {
        return { status: 303, headers: { "X-Session-Login": "bob", location: `${ctx.signin.url}/login/done` } };
      }
      return { headers: { "content-type": "text/html" }, body: "<form>sign in</form>" };
    });
    const vars = { ORIGIN_URL: ctx.origin.url, PUBLIC_PATHS: "/public/*", REVOCATION_CACHE: "0" };
    [ctx.gate, ctx.plain] = await Promise.all([
      startGate({ name: "fidelity", vars: { ...vars, LOGIN_ORIGIN_URL: ctx.signin.url }, secrets: { SESSION_KEYS: await keygen("main") } }),
      startGate({ name: "passthrough", vars, main: path.join(ROOT, "tests", "e2e", "passthrough.js") }),
    ]);
    ctx.cookie = await ctx.gate.mint({ sub: "alice" });
    ctx.dir = fs.mkdtempSync(path.join(os.tmpdir(), "session-gate-fidelity-"));
  });

  after(async () => {
    await ctx.gate?.stop();
    await ctx.plain?.stop();
    await ctx.origin?.close();
    await ctx.signin?.close();
    if (ctx.dir) fs.rmSync(ctx.dir, { recursive: true, force: true });
  });

  /** Sends the same raw request through both Workers: [gate, pass-through], each with what the origin saw. */
  async function both(lines, body = "") {
    const out = [];
    for (const worker of [ctx.gate, ctx.plain]) {
      const head = [...lines(new URL(worker.url).host), "Connection: close"].join("\r\n");
      const before = ctx.origin.requests.length;
      const res = await socketRequest(worker.url, head, body);
      out.push({ res, seen: ctx.origin.requests.slice(before) });
    }
    return out;
  }

  it("curl -T of a file over 1 MB with Expect: 100-continue arrives whole (was a 502)", async () => {
    const file = path.join(ctx.dir, "big.bin");
    const data = crypto.randomBytes(1536 * 1024);
    fs.writeFileSync(file, data);
    const before = ctx.origin.requests.length;
    const { stdout } = await run("curl", [
      "-s", "-o", "/dev/null", "-w", "%{http_code}", "-T", file, "-H", "Expect: 100-continue",
      "-H", `Cookie: ${COOKIE}=${ctx.cookie}`, `${ctx.gate.url}/private/upload.bin`,
    ]);
    assert.equal(stdout, "200");
    const seen = ctx.origin.requests.slice(before);
    assert.equal(seen.length, 1);
    assert.equal(seen[0].method, "PUT");
    assert.ok(seen[0].body.equals(data), "the body reached the origin byte for byte");
    assert.equal(seen[0].headers.expect, undefined, "Expect is not forwarded");
    assert.equal(seen[0].headers["x-session-user"], "alice");
  });

  it("a GET with a body is forwarded with its body, as through a pass-through Worker (was 400, before that 502)", async () => {
    const body = '{"query":{"match_all":{}}}';
    const [gate, plain] = await both(
      (host) => ["GET /private/_search HTTP/1.1", `Host: ${host}`, `Cookie: ${COOKIE}=${ctx.cookie}`,
        "Content-Type: application/json", `Content-Length: ${body.length}`],
      body,
    );
    assert.equal(plain.res.status, 200, "the pass-through forwards it");
    assert.equal(gate.res.status, plain.res.status);
    assert.equal(gate.seen.length, 1);
    assert.equal(gate.seen[0].method, "GET");
    assert.equal(gate.seen[0].body.toString(), body);
    assert.equal(gate.seen[0].body.toString(), plain.seen[0].body.toString());
    assert.equal(gate.seen[0].headers["x-session-user"], "alice");
  });

  it("a HEAD with a chunked body is forwarded as through a pass-through Worker", async () => {
    const [gate, plain] = await both(
      (host) => ["HEAD /public/head-body HTTP/1.1", `Host: ${host}`, "Transfer-Encoding: chunked"],
      "5\r\nhello\r\n0\r\n\r\n",
    );
    assert.equal(gate.res.status, plain.res.status);
    assert.equal(gate.seen.length, plain.seen.length);
    assert.deepEqual(gate.seen.map((r) => [r.method, r.body.toString()]), plain.seen.map((r) => [r.method, r.body.toString()]));
  });

  it("request header bytes outside UTF-8 reach the origin as sent (were U+FFFD)", async () => {
    const [gate, plain] = await both(
      (host) => ["GET /private/odd-request HTTP/1.1", `Host: ${host}`, `Cookie: ${COOKIE}=${ctx.cookie}`, `X-Odd: ${ODD}`],
    );
    assert.equal(gate.res.status, 200);
    const sent = (record) => Buffer.from(record.rawHeaders[record.rawHeaders.findIndex((n) => n.toLowerCase() === "x-odd") + 1], "latin1");
    assert.equal(sent(plain.seen[0]).toString("hex"), Buffer.from(ODD, "latin1").toString("hex"));
    assert.equal(sent(gate.seen[0]).toString("hex"), Buffer.from(ODD, "latin1").toString("hex"));
  });

  it("response header bytes outside UTF-8 reach the client as through a pass-through Worker (were U+FFFD)", async () => {
    const [gate, plain] = await both((host) => ["GET /public/odd-response HTTP/1.1", `Host: ${host}`]);
    assert.equal(gate.res.status, 200);
    const bytes = (res) => Buffer.from(res.headers["x-odd"], "latin1").toString("hex");
    assert.ok(!bytes(gate.res).includes("efbfbd"), `a replacement character: ${bytes(gate.res)}`);
    assert.equal(bytes(gate.res), bytes(plain.res));
  });

  it("a response with nothing to change reaches the client as through a pass-through Worker (the origin's own Response)", async () => {
    for (const path of ["/public/as-is", "/private/as-is"]) {
      const cookie = path.startsWith("/private") ? [`Cookie: ${COOKIE}=${ctx.cookie}`] : [];
      const [gate, plain] = await both((host) => [`GET ${path} HTTP/1.1`, `Host: ${host}`, ...cookie]);
      assert.equal(gate.res.status, 201, path);
      assert.equal(gate.res.body, plain.res.body, path);
      const pairs = (res) => {
        const out = [];
        for (let i = 0; i < res.rawHeaders.length; i += 2) if (res.rawHeaders[i] !== "date") out.push(`${res.rawHeaders[i]}: ${Buffer.from(res.rawHeaders[i + 1], "latin1").toString("hex")}`);
        return out.sort();
      };
      assert.deepEqual(pairs(gate.res), pairs(plain.res), path);
    }
  });

  it("ORIGIN_URL mode: a same-origin Origin and Referer reach the origin rebased onto the upstream (Django, Jupyter, Socket.IO compare them with Host)", async () => {
    const before = ctx.origin.requests.length;
    const res = await ctx.gate.raw("/private/form?a=1", {
      method: "POST",
      headers: {
        cookie: `${COOKIE}=${ctx.cookie}`, origin: ctx.gate.url, referer: `${ctx.gate.url}/private/form?a=1`,
        "sec-fetch-site": "same-origin", "content-type": "application/x-www-form-urlencoded",
      },
      body: "x=1",
    });
    assert.equal(res.status, 200);
    const [seen] = ctx.origin.requests.slice(before);
    assert.equal(seen.headers.host, new URL(ctx.origin.url).host, "the origin's own Host");
    assert.equal(seen.headers.origin, ctx.origin.url, "Origin matches the Host the origin sees");
    assert.equal(seen.headers.referer, `${ctx.origin.url}/private/form?a=1`);
    assert.equal(seen.headers["x-forwarded-host"], new URL(ctx.gate.url).host);
    assert.equal(seen.headers["x-forwarded-proto"], "http");
    // Another origin's Origin is never dressed up as the upstream's: on a
    // public path (no session, no same-origin check) it passes as sent.
    const other = ctx.origin.requests.length;
    await ctx.gate.raw("/public/cors", { method: "POST", headers: { origin: "https://elsewhere.example", referer: "https://elsewhere.example/p" }, body: "x" });
    const [cross] = ctx.origin.requests.slice(other);
    assert.equal(cross.headers.origin, "https://elsewhere.example");
    assert.equal(cross.headers.referer, "https://elsewhere.example/p");
  });

  it("ORIGIN_URL mode: Location, Content-Location, Link and Refresh on the upstream are rebased onto the gate", async () => {
    const res = await ctx.gate.fetch("/public/absolute-urls");
    assert.equal(res.status, 302);
    assert.equal(res.headers.get("location"), `${ctx.gate.url}/public/target?x=1`);
    assert.equal(res.headers.get("content-location"), `${ctx.gate.url}/public/doc`);
    assert.equal(res.headers.get("link"), `<${ctx.gate.url}/public/p2>; rel=next, <https://cdn.example/x.js>; rel=preload`);
    assert.equal(res.headers.get("refresh"), `5; url=${ctx.gate.url}/public/later`);
  });

  /** Opens an echoing WebSocket through the gate with this session and checks it echoes. */
  async function openSocket(cookie) {
    const ws = await wsConnect(ctx.gate.url, "/private/ws", { Cookie: `${COOKIE}=${cookie}`, Origin: ctx.gate.url });
    assert.equal(ws.status, 101);
    ws.send("hello");
    for (let i = 0; i < 50 && !ws.messages.includes("hello"); i++) await sleep(100);
    assert.ok(ws.messages.includes("hello"), "the socket echoes");
    return ws;
  }

  /** Waits for `closed` while the client keeps talking; the ms it took, or null if still open after `ms`. */
  async function closedWithin(ws, ms) {
    const start = Date.now();
    const chatter = setInterval(() => ws.send("still there?"), 200);
    let limit;
    const code = await Promise.race([ws.closed, new Promise((r) => { limit = setTimeout(() => r("open"), ms); })]);
    clearTimeout(limit);
    clearInterval(chatter);
    ws.end();
    return code === "open" ? null : { code, ms: Date.now() - start };
  }

  it("a WebSocket closes within the bound after revoke-user (it kept echoing before)", async () => {
    const cookie = await ctx.gate.mint({ sub: "wsuser", iat: Date.now() - 1000 });
    const ws = await openSocket(cookie);
    const started = Date.now();
    await ctx.gate.cli(["revoke-user", "wsuser", "--local"], { passWrangler: true });
    const cliMs = Date.now() - started;
    const closed = await closedWithin(ws, 8000);
    assert.ok(closed, "still open 8 s after revoke-user");
    console.log(`# WebSocket closed ${closed.ms} ms after revoke-user returned (it took ${cliMs} ms to write KV; code ${closed.code})`);
    assert.ok(closed.ms <= LIFETIME_BOUND_MS, `closed after ${closed.ms} ms`);
    assert.equal(closed.code, 1008, "policy violation: the session ended");
    const http401 = await ctx.gate.fetch("/private/after", { headers: { cookie: `${COOKIE}=${cookie}` } });
    assert.equal(http401.status, 401);
    await http401.arrayBuffer();
    assert.ok(await ctx.gate.waitForLog((l) => l.includes('"connection_closed"') && l.includes('"revoked"')), "logged");
  });

  it("a WebSocket closes when its session reaches the absolute expiry", async () => {
    const now = Date.now();
    const cookie = await ctx.gate.mint({ sub: "wsexpiry", iat: now - ABSOLUTE_TIMEOUT_S * 1000 + 2500, seen: now });
    const ws = await openSocket(cookie);
    const closed = await closedWithin(ws, 8000);
    assert.ok(closed, "still open after the absolute expiry");
    console.log(`# WebSocket closed ${closed.ms} ms after opening, its session expiring ~2.5 s after`);
    assert.equal(closed.code, 1008);
  });

  it("a streamed response (text/event-stream) ends within the bound after revoke-user", async () => {
    const cookie = await ctx.gate.mint({ sub: "sseuser", iat: Date.now() - 1000 });
    const { host } = new URL(ctx.gate.url);
    let chunks = 0;
    let revokedAt = 0;
    let giveUp;
    const ended = new Promise((resolve, reject) => {
      const req = http.get(`${ctx.gate.url}/private/events`, { headers: { cookie: `${COOKIE}=${cookie}`, host } }, (res) => {
        assert.equal(res.statusCode, 200);
        res.on("data", () => { chunks += 1; });
        const done = () => resolve(Date.now());
        res.on("end", done);
        res.on("error", done);
        res.on("close", done);
      });
      req.on("error", () => resolve(Date.now()));
      giveUp = setTimeout(() => { req.destroy(); reject(new Error("the stream was still open 10 s after revoke-user")); }, 12_000);
    }).finally(() => clearTimeout(giveUp));
    for (let i = 0; i < 50 && chunks < 2; i++) await sleep(100);
    assert.ok(chunks >= 2, "events arrive");
    const started = Date.now();
    await ctx.gate.cli(["revoke-user", "sseuser", "--local"], { passWrangler: true });
    revokedAt = Date.now();
    const end = await ended;
    const ms = end - revokedAt;
    console.log(`# event stream ended ${ms} ms after revoke-user returned (it took ${revokedAt - started} ms to write KV)`);
    assert.ok(ms <= LIFETIME_BOUND_MS, `ended after ${ms} ms`);
  });

  it("LOGIN_ORIGIN_URL: LOGIN_PATH and its subpaths go to the sign-in service, whose handshake starts a session the app sees", async () => {
    const appBefore = ctx.origin.requests.length;
    const page = await ctx.gate.fetch("/login?next=%2Fprivate%2Fhome", { headers: { accept: "text/html" } });
    assert.equal(page.status, 200);
    assert.equal(await page.text(), "<form>sign in</form>");
    const finish = await ctx.gate.fetch("/login/finish", { method: "POST", headers: { origin: ctx.gate.url, "sec-fetch-site": "same-origin" }, body: "u=bob" });
    assert.equal(finish.status, 303);
    assert.equal(finish.headers.get("location"), `${ctx.gate.url}/login/done`, "the sign-in service's own URL rebased");
    assert.deepEqual(ctx.signin.requests.map((r) => `${r.method} ${r.url}`), ["GET /login?next=%2Fprivate%2Fhome", "POST /login/finish"]);
    assert.equal(ctx.signin.requests[1].headers.origin, ctx.signin.url, "Origin rebased onto the sign-in service");
    assert.equal(ctx.origin.requests.length, appBefore, "the app saw none of it");
    const cookie = `${COOKIE}=${setCookies(finish)[COOKIE].value}`;
    const app = await ctx.gate.fetch("/private/home", { headers: { cookie } });
    assert.equal(app.status, 200);
    await app.arrayBuffer();
    assert.equal(ctx.origin.requests.at(-1).headers["x-session-user"], "bob");
  });
});
