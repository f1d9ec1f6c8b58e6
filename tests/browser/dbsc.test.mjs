// Device-bound sessions (DBSC) in Debian's Chromium: signed in over HTTPS,
// the browser registers a key with the gate, its bound cookie expires and
// Chromium refreshes it (a signed proof) before the page's next request,
// without the page noticing; the cookie copied out of the browser and
// replayed with a plain HTTP client stops working after BOUND_COOKIE_TTL.
// CDP's Network.deviceBoundSessionEventOccurred shows each step.
//
// The recipe (/work/shared/TOOLCHAIN.md): HTTPS with a self-signed
// certificate Chromium counts as valid through
// --ignore-certificate-errors-spki-list (merely skipping certificate errors
// is not enough), and the features DeviceBoundSessions and
// EnableBoundSessionCredentialsSoftwareKeysForManualTesting (Linux has no
// hardware key provider).
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { chromium } from "playwright-core";
import { startGate, keygen, rememberCookie } from "../e2e/harness.mjs";
import { CHROMIUM, COOKIE, ORIGIN_SECRET, startDemoOrigin, signIn, watchConsole } from "./stack.mjs";

// Chromium refreshes proactively once a bound cookie is within about 120 s
// of expiring, on every request in scope, and limits how often a key may
// sign: with BOUND_COOKIE_TTL=6 it refreshed on nearly every request and
// stopped after six signatures (refreshResult "SigningQuotaExceeded",
// docs/device-binding.md). That quota is a production limit of the browser;
// this test turns it off
// (--enable-features=DeviceBoundSessions:RefreshQuota/false, a parameter of
// the DeviceBoundSessions feature whose name is in Debian's Chromium 156
// binary), and with it the TTL can be short. Every refresh the browser makes while the
// dashboard loads is proactive and must succeed too; the test then waits,
// on about:blank, for the newest bound cookie to expire, and the next
// navigation needs a refresh that is not proactive. With TTL 130 and the
// quota on, the wait was 130 of the file's ~140 s.
const TTL = 8; // seconds
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A self-signed certificate for localhost and 127.0.0.1, and its SPKI hash. */
function certificate(dir) {
  const key = path.join(dir, "key.pem");
  const cert = path.join(dir, "cert.pem");
  execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
    "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=localhost",
    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"], { stdio: "ignore" });
  const spki = execFileSync("sh", ["-c",
    `openssl x509 -in '${cert}' -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64`]).toString().trim();
  return { key, cert, spki };
}

describe("device-bound sessions in Chromium", () => {
  let origin, gate, browser, dir, tls;
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "session-gate-dbsc-"));
    tls = certificate(dir);
    origin = await startDemoOrigin();
    gate = await startGate({
      name: "browser-dbsc",
      vars: { ORIGIN_URL: origin.url, PUBLIC_PATHS: "/welcome,/assets/*,/favicon.ico", LOGIN_PATH: "/login",
        DEVICE_BINDING: "on", BOUND_COOKIE_TTL: String(TTL) },
      secrets: { SESSION_KEYS: await keygen("k1"), ORIGIN_SECRET },
      https: tls,
    });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
        `--ignore-certificate-errors-spki-list=${tls.spki}`,
        "--enable-features=DeviceBoundSessions:RefreshQuota/false,EnableBoundSessionCredentialsSoftwareKeysForManualTesting"],
    });
  });
  after(async () => {
    await browser?.close();
    await gate?.stop();
    await origin?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it("registers, refreshes the expired bound cookie unnoticed, and a copied cookie dies after the TTL", async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const errors = watchConsole(page);
    const cdp = await context.newCDPSession(page);
    const events = [];
    cdp.on("Network.deviceBoundSessionEventOccurred", (e) => events.push(e));
    await cdp.send("Network.enable");
    await cdp.send("Network.enableDeviceBoundSessions", { enable: true });

    await signIn(page, gate.url, "alice");
    // The registration: a POST to the gate's endpoint that Chromium makes
    // on its own after the login response.
    for (let i = 0; i < 100 && !events.some((e) => e.creationEventDetails); i++) await sleep(100);
    const creation = events.find((e) => e.creationEventDetails);
    assert.ok(creation, `no registration event; events: ${JSON.stringify(events)}\ngate log:\n${gate.logs.join("\n")}`);
    assert.equal(creation.succeeded, true, JSON.stringify(creation));
    const cookie = (await context.cookies()).find((c) => c.name === COOKIE);
    assert.ok(cookie?.value.startsWith("v2."), `a bound cookie: ${cookie?.value.slice(0, 3)}`);
    rememberCookie(cookie.value);
    const copied = cookie.value;

    // The bound cookie expires while the tab shows nothing of the site
    // (the dashboard polls /.session-gate/me, and each poll near expiry
    // would refresh it ahead of time); the next navigation is held back
    // while Chromium refreshes it, and the page loads as if nothing
    // happened.
    await page.goto("about:blank");
    // A proactive refresh started by the dashboard may still be in flight:
    // the newest cookie is the one read once no event came for a second.
    for (let seen = -1; seen !== events.length;) {
      seen = events.length;
      await sleep(1000);
    }
    const newest = (await context.cookies()).find((c) => c.name === COOKIE);
    assert.ok(newest, "a bound cookie before the wait");
    rememberCookie(newest.value);
    const expires = newest.expires * 1000;
    await sleep(Math.max(0, expires - Date.now()) + 1500);
    assert.equal((await context.cookies()).some((c) => c.name === COOKIE), false, "the bound cookie expired");
    const res = await page.goto(`${gate.url}/`);
    const diagnose = () => `events: ${JSON.stringify(events)}\ngate log:\n${gate.logs.filter((l) => l.includes("dbsc") || l.includes("bound")).join("\n")}`;
    assert.equal(res.status(), 200, diagnose());
    assert.equal(new URL(page.url()).pathname, "/", `the page went to sign in; ${diagnose()}`);
    const refreshes = events.filter((e) => e.refreshEventDetails);
    assert.ok(refreshes.some((e) => e.succeeded && e.refreshEventDetails.wasFullyProactiveRefresh === false), diagnose());
    assert.ok(refreshes.every((e) => e.succeeded), diagnose());
    const fresh = (await context.cookies()).find((c) => c.name === COOKIE);
    assert.ok(fresh && fresh.value !== copied, "a fresh bound cookie");
    rememberCookie(fresh.value);
    assert.ok(gate.logs.some((l) => l.includes('"action":"dbsc_refresh"') && l.includes('"status":200')));

    // The copy, replayed outside the browser after the TTL: refused, 401.
    const replay = await gate.fetch("/api/me", { headers: { cookie: `${COOKIE}=${copied}` } });
    assert.equal(replay.status, 401);
    assert.equal((await replay.json()).reason, "expired");
    assert.deepEqual(errors, []);
    await context.close();
  });
});
