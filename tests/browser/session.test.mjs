// The session lifecycle in a real browser: headless Chromium in front of the
// built worker (wrangler dev) in front of the Rust demo origin, with the
// settings `make dev` uses.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { launchBrowser, startStack, signIn, sessionCookie, watchConsole, sidOf, COOKIE } from "./stack.mjs";
import { rememberCookie } from "../e2e/harness.mjs";

describe("the demo in a browser", () => {
  let stack, browser, base;
  /** Every session cookie value the browser was sent, for the leak check. */
  const issued = new Set();

  before(async () => {
    stack = await startStack({ name: "browser-session" });
    base = stack.url;
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await stack?.stop();
  });

  /** A fresh browser profile's worth of state: cookies, storage, history. */
  async function newContext() {
    const context = await browser.newContext();
    context.on("response", async (res) => {
      // Responses still arriving as a context closes have no headers to read.
      const headers = await res.headersArray().catch(() => []);
      for (const { name, value } of headers) {
        if (name.toLowerCase() !== "set-cookie" || !value.startsWith(`${COOKIE}=`)) continue;
        const cookie = value.slice(COOKIE.length + 1).split(";")[0];
        if (cookie) {
          issued.add(cookie);
          rememberCookie(cookie);
        }
      }
    });
    return context;
  }

  const path = (page) => {
    const u = new URL(page.url());
    assert.equal(u.origin, base, "the browser stays on the gate's origin");
    return u.pathname + u.search;
  };

  /** What the gate says about a cookie value, without a browser. */
  async function gateVerdict(value) {
    const res = await stack.gate.fetch("/whoami", { headers: { cookie: `${COOKIE}=${value}` } });
    const body = await res.json();
    return res.status === 200 ? "valid" : body.reason;
  }

  it("signing in shows your name, and the dashboard reads the session from the gate", async () => {
    const context = await newContext();
    const page = await context.newPage();
    const errors = watchConsole(page);
    await page.goto(`${base}/`);
    assert.equal(path(page), "/login?next=%2F", "a page load without a session is sent to sign in");
    await signIn(page, base, "alice");
    assert.equal(path(page), "/");
    assert.equal(await page.getByRole("heading", { level: 1 }).textContent(), "Hello, alice");
    // The details come from /.session-gate/me.
    await page.waitForFunction(() => /^[0-9a-f]{32}$/.test(document.getElementById("me-fingerprint").textContent));
    assert.equal(await page.locator("dd.me-sub").textContent(), "alice");
    assert.equal(await page.locator("#me-roles").textContent(), "none");
    const idle = await page.locator("#idle-left").textContent();
    assert.match(idle, /^(30:00|29:[0-5]\d)$/, "IDLE_TIMEOUT 1800 counts down from 30:00");
    assert.match(await page.locator("#abs-left").textContent(), /^(12:00:00|11:59:[0-5]\d)$/);
    assert.equal(await page.locator("#idle-total").textContent(), "30 min");
    assert.equal(await page.locator("#abs-total").textContent(), "12 h");
    const fingerprint = await page.locator("#me-fingerprint").textContent();
    const whoami = await (await page.request.get(`${base}/whoami`)).json();
    assert.equal(whoami.identity["x-session-user"], "alice");
    assert.equal(whoami.identity["x-session-id"], fingerprint, "the page shows the fingerprint the origin gets");
    assert.deepEqual(errors, []);
    await context.close();
  });

  it("signing in from a deep link lands on that page", async () => {
    const context = await newContext();
    const page = await context.newPage();
    await page.goto(`${base}/account`);
    assert.equal(path(page), "/login?next=%2Faccount");
    await signIn(page, base, "alice", "alice", "/account");
    assert.equal(path(page), "/account");
    assert.equal(await page.getByRole("heading", { level: 1 }).textContent(), "Change password");
    await context.close();
  });

  it("a wrong password gets no session", async () => {
    const context = await newContext();
    const page = await context.newPage();
    await page.goto(`${base}/login`);
    await page.getByLabel("Username").fill("alice");
    await page.getByLabel("Password").fill("bob");
    const [res] = await Promise.all([
      page.waitForResponse((r) => r.request().method() === "POST"),
      page.getByRole("button", { name: "Sign in" }).click(),
    ]);
    assert.equal(res.status(), 401);
    await page.getByRole("alert").waitFor();
    assert.equal(await page.getByRole("alert").textContent(), "Wrong username or password.");
    assert.equal(await sessionCookie(context), undefined);
    await context.close();
  });

  it("the session cookie is __Host-, HttpOnly, Secure and SameSite=Lax, and out of JavaScript's reach", async () => {
    const context = await newContext();
    const page = await context.newPage();
    await signIn(page, base, "alice");
    const cookie = await sessionCookie(context);
    assert.ok(cookie, "the browser stored the session cookie");
    assert.equal(cookie.name, "__Host-session");
    assert.equal(cookie.httpOnly, true);
    assert.equal(cookie.secure, true);
    assert.equal(cookie.sameSite, "Lax");
    assert.equal(cookie.path, "/");
    assert.equal(cookie.domain, "127.0.0.1", "host-only: no Domain attribute");
    const lifetime = cookie.expires - Date.now() / 1000;
    assert.ok(lifetime > 43200 - 120 && lifetime <= 43200 + 1, `expires with the absolute timeout (${lifetime}s)`);
    const visible = await page.evaluate(() => document.cookie);
    assert.ok(!visible.includes(COOKIE), "document.cookie does not show the session cookie");
    assert.ok(!visible.includes(cookie.value));
    await context.close();
  });

  it("signing out ends the session: the dashboard sends you to sign in, and the old cookie is revoked", async () => {
    const context = await newContext();
    const page = await context.newPage();
    const errors = watchConsole(page);
    await signIn(page, base, "alice");
    const before = await sessionCookie(context);
    assert.equal(await gateVerdict(before.value), "valid");
    await Promise.all([page.waitForURL((u) => u.pathname === "/login"), page.getByRole("button", { name: "Sign out" }).click()]);
    assert.equal(path(page), "/login?bye=1");
    assert.match(await page.getByRole("status").first().textContent(), /You have signed out/);
    assert.equal(await sessionCookie(context), undefined, "the cookie is cleared");
    await page.goto(`${base}/`);
    assert.equal(path(page), "/login?next=%2F");
    assert.equal(await gateVerdict(before.value), "revoked", "a copy of the cookie is worthless");
    assert.deepEqual(errors, []);
    await context.close();
  });

  it("changing the password signs out the user's other sessions on their next load, and keeps this one", async () => {
    const one = await newContext();
    const two = await newContext();
    const a = await one.newPage();
    const b = await two.newPage();
    const errors = watchConsole(a);
    await signIn(a, base, "bob");
    await signIn(b, base, "bob");
    const oldA = await sessionCookie(one);
    const oldB = await sessionCookie(two);

    await Promise.all([a.waitForURL((u) => u.pathname === "/account"), a.getByRole("link", { name: "Account" }).click()]);
    await a.getByLabel("Current password").fill("bob");
    await a.getByLabel("New password", { exact: true }).fill("correct horse");
    await a.getByLabel("New password, again").fill("correct horse");
    await Promise.all([a.waitForURL((u) => u.pathname === "/"), a.getByRole("button", { name: "Change password" }).click()]);
    assert.equal(path(a), "/?notice=password-changed");
    assert.match(await a.getByRole("status").first().textContent(), /Password changed/);
    const newA = await sessionCookie(one);
    assert.notEqual(sidOf(newA.value), sidOf(oldA.value), "this browser got a fresh session");

    await b.reload();
    assert.equal(path(b), "/login?next=%2F", "the other browser is signed out on its next load");
    await a.reload();
    assert.equal(path(a), "/?notice=password-changed", "this browser is still signed in");
    assert.equal(await a.getByRole("heading", { level: 1 }).textContent(), "Hello, bob");
    assert.equal(await gateVerdict(oldA.value), "revoked");
    assert.equal(await gateVerdict(oldB.value), "revoked");

    // The old password is gone, the new one works.
    await b.getByLabel("Username").fill("bob");
    await b.getByLabel("Password").fill("bob");
    await b.getByRole("button", { name: "Sign in" }).click();
    await b.getByRole("alert").waitFor();
    await b.getByLabel("Username").fill("bob");
    await b.getByLabel("Password").fill("correct horse");
    await Promise.all([b.waitForURL((u) => u.pathname === "/"), b.getByRole("button", { name: "Sign in" }).click()]);
    assert.equal(await b.getByRole("heading", { level: 1 }).textContent(), "Hello, bob");
    assert.deepEqual(errors, []);
    await one.close();
    await two.close();
  });

  it("a session id typed into the URL never stays in the address bar", async () => {
    const context = await newContext();
    const page = await context.newPage();
    await page.goto(`${base}/?sid=x`);
    assert.equal(path(page), "/login?next=%2F", "scrubbed before the redirect to sign in");
    await signIn(page, base, "alice");
    await page.goto(`${base}/account?sid=x&tab=2`);
    assert.equal(path(page), "/account?tab=2");
    await page.goto(`${base}/?JSESSIONID=abc&PHPSESSID=def`);
    assert.equal(path(page), "/");
    await page.goto(`${base}/account;jsessionid=abc`);
    assert.equal(path(page), "/account");
    assert.equal(await page.getByRole("heading", { level: 1 }).textContent(), "Change password");
    await context.close();
  });

  it("an admin revokes another user's sessions; other users cannot", async () => {
    const adminContext = await newContext();
    const aliceContext = await newContext();
    const admin = await adminContext.newPage();
    const alice = await aliceContext.newPage();
    const errors = watchConsole(admin);
    await signIn(admin, base, "admin");
    await signIn(alice, base, "alice");

    // alice has no admin link, gets 403 for the page and for the action.
    assert.equal(await alice.getByRole("link", { name: "Admin", exact: true }).count(), 0);
    const page403 = await alice.goto(`${base}/admin`);
    assert.equal(page403.status(), 403);
    assert.equal(await alice.getByRole("heading", { level: 1 }).textContent(), "Admins only");
    const post = await alice.evaluate(async () => {
      const res = await fetch("/admin/revoke", {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: "user=admin",
      });
      return res.status;
    });
    assert.equal(post, 403);
    await admin.reload();
    assert.equal(path(admin), "/", "the refused revoke did nothing to admin");

    await Promise.all([admin.waitForURL((u) => u.pathname === "/admin"), admin.getByRole("link", { name: "Admin", exact: true }).click()]);
    await admin.getByLabel("User", { exact: true }).selectOption("alice");
    await Promise.all([
      admin.waitForURL((u) => u.search.startsWith("?revoked")),
      admin.getByRole("button", { name: "Revoke all sessions" }).click(),
    ]);
    assert.equal(path(admin), "/admin?revoked=alice");
    assert.match(await admin.getByRole("status").first().textContent(), /Every session of alice issued before now is revoked/);

    await alice.goto(`${base}/`);
    assert.equal(path(alice), "/login?next=%2F", "alice is signed out on her next load");
    await admin.goto(`${base}/`);
    assert.equal(path(admin), "/", "admin is not");
    // alice can sign in again: only sessions issued before the revocation died.
    await signIn(alice, base, "alice");
    assert.equal(path(alice), "/");
    assert.deepEqual(errors, []);
    await adminContext.close();
    await aliceContext.close();
  });

  it("signing in with a next= that scrubbing would turn into //evil.example stays on this site", async () => {
    // Red-team pass, issue 9 item 2: the demo origin's 303 to
    // "/;jsessionid=x/evil.example/" left the gate as "//evil.example/".
    const context = await newContext();
    const page = await context.newPage();
    await page.goto(`${base}/login?next=%2F%3Bjsessionid%3Dx%2Fevil.example%2F`);
    await page.getByLabel("Username").fill("alice");
    await page.getByLabel("Password").fill("alice");
    await Promise.all([
      page.waitForURL((u) => u.pathname !== "/login"),
      page.getByRole("button", { name: "Sign in" }).click(),
    ]);
    assert.equal(path(page), "/evil.example/", "a path on this site, not another host");
    await context.close();
  });

  it("no gate log line and no demo origin line holds a session cookie or a sid", async () => {
    assert.ok(issued.size >= 8, `saw ${issued.size} session cookies`);
    const lines = [...stack.gate.logs, ...stack.origin.output().split("\n")];
    for (const value of issued) {
      for (const secret of [value, sidOf(value)]) {
        assert.ok(!lines.some((l) => l.includes(secret)), "a session cookie or sid in a log line");
      }
    }
    assert.ok(!lines.some((l) => /[?;](sid|jsessionid|phpsessid)=/i.test(l)), "a session id from a URL in a log line");
  });
});
