// "Your sessions" (/sessions) in a real browser, with the session directory
// on as `make dev` runs it: browser contexts signed in as the same user see
// each other in the list, one ends another (or every other) and the ended
// one is sent to sign in on its next navigation; MAX_SESSIONS evicts the
// oldest; with the directory off the page says so.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { launchBrowser, startStack, signIn, sessionCookie, watchConsole, sidOf } from "./stack.mjs";

/** A browser, a stack started with `vars`, and helpers around them. */
function harness(name, vars = {}) {
  const h = { cookies: new Set() };
  before(async () => {
    h.stack = await startStack({ name, vars });
    h.base = h.stack.url;
    h.browser = await launchBrowser();
  });
  after(async () => {
    await h.browser?.close();
    await h.stack?.stop();
  });
  /** A fresh browser profile signed in as `user`: { context, page, fingerprint }. */
  h.signedIn = async (user) => {
    const context = await h.browser.newContext();
    const page = await context.newPage();
    await signIn(page, h.base, user);
    assert.equal(h.path(page), "/");
    h.cookies.add((await sessionCookie(context)).value);
    const me = await context.request.get(`${h.base}/.session-gate/me`);
    assert.equal(me.status(), 200);
    const { fingerprint } = await me.json();
    assert.match(fingerprint, /^[0-9a-f]{32}$/);
    return { context, page, fingerprint };
  };
  h.path = (page) => {
    const u = new URL(page.url());
    assert.equal(u.origin, h.base, "the browser stays on the gate's origin");
    return u.pathname + u.search;
  };
  /** Opens /sessions in `page` and waits for the gate's list. */
  h.openSessions = async (page) => {
    await page.goto(`${h.base}/sessions`);
    assert.equal(h.path(page), "/sessions");
    await page.locator("#sessions").waitFor({ state: "visible" });
  };
  /** Navigates to the dashboard: where did the browser land? */
  h.next = async (page) => {
    await page.goto(`${h.base}/`);
    return h.path(page);
  };
  return h;
}

/** The session rows of the list (the header row has no cells). */
const rows = (page) => page.locator("#session-rows tr");
/** The row of the session with this fingerprint (the page shows its first 8 digits). */
const rowOf = (page, fingerprint) => page.getByRole("row").filter({ hasText: `Session ${fingerprint.slice(0, 8)}` });
const ids = (page) => rows(page).evaluateAll((trs) => trs.map((tr) => tr.dataset.id));

describe("your sessions, directory on", () => {
  const h = harness("browser-sessions");

  it("B ends A's session from the list; A's next navigation lands on sign in, B stays", async () => {
    const a = await h.signedIn("alice");
    const b = await h.signedIn("alice");
    const errors = watchConsole(b.page);
    await h.openSessions(b.page);
    assert.equal(await b.page.getByRole("heading", { level: 1 }).textContent(), "Your sessions");
    assert.equal(await rows(b.page).count(), 2);
    assert.deepEqual((await ids(b.page)).sort(), [a.fingerprint, b.fingerprint].sort());
    // A bystander C, signed in after B looked: "Sign out" on A's row must
    // end A alone, not every other session.
    const c = await h.signedIn("alice");
    await h.openSessions(b.page);
    assert.equal(await rows(b.page).count(), 3);
    // Exactly one row says "This device", and it is B's own, listed first.
    const mine = b.page.getByRole("row", { name: /This device/ });
    assert.equal(await mine.count(), 1);
    assert.equal(await mine.getAttribute("data-id"), b.fingerprint);
    assert.equal((await ids(b.page))[0], b.fingerprint);
    // What a row shows: device, where, and humane times with exact ones kept.
    const rowA = rowOf(b.page, a.fingerprint);
    assert.match(await rowA.getByRole("rowheader").innerText(), /^Chrome on Linux\s+Session [0-9a-f]{8}$/);
    assert.equal(await rowA.locator("code").getAttribute("title"), a.fingerprint);
    const seen = rowA.locator("time.seen");
    assert.equal(await seen.textContent(), "just now");
    const exact = Date.parse(await seen.getAttribute("datetime"));
    assert.ok(Math.abs(Date.now() - exact) < 60_000, "datetime holds the exact last-seen time");
    assert.ok((await seen.getAttribute("title")).length > 8, "the exact time is in the title");
    assert.ok((await rowA.locator("td.where").textContent()).length > 0);

    await rowA.getByRole("button", { name: /^Sign out/ }).click();
    await b.page.getByRole("status").filter({ hasText: "Signed out Chrome on Linux" }).waitFor();
    await b.page.waitForFunction(() => document.querySelectorAll("#session-rows tr").length === 2);
    assert.deepEqual((await ids(b.page)).sort(), [b.fingerprint, c.fingerprint].sort());

    assert.equal(await h.next(a.page), "/login?next=%2F", "A is sent to sign in");
    assert.equal(await h.next(b.page), "/", "B is still signed in");
    assert.equal(await b.page.getByRole("heading", { level: 1 }).textContent(), "Hello, alice");
    assert.equal(await h.next(c.page), "/", "C is untouched");
    assert.deepEqual(errors, []);
    for (const s of [a, b, c]) await s.context.close();
  });

  it("'Sign out everywhere else' from B ends A and C but not B; B's own row signs B out", async () => {
    const a = await h.signedIn("bob");
    const b = await h.signedIn("bob");
    const c = await h.signedIn("bob");
    const errors = watchConsole(b.page);
    await h.openSessions(b.page);
    assert.equal(await rows(b.page).count(), 3);
    assert.equal(await b.page.getByRole("row", { name: /This device/ }).count(), 1);
    await b.page.getByRole("button", { name: "Sign out everywhere else" }).click();
    await b.page.getByRole("status").filter({ hasText: "Signed out 2 other sessions." }).waitFor();
    await b.page.waitForFunction(() => document.querySelectorAll("#session-rows tr").length === 1);
    assert.deepEqual(await ids(b.page), [b.fingerprint]);
    assert.equal(await b.page.locator("#end-others").isVisible(), false, "no others left to sign out");
    assert.equal(await b.page.getByText("This is your only session.").isVisible(), true);
    assert.equal(await h.next(a.page), "/login?next=%2F", "A is sent to sign in");
    assert.equal(await h.next(c.page), "/login?next=%2F", "C is sent to sign in");
    assert.equal(await h.next(b.page), "/", "B is still signed in");

    // This device's "Sign out" is the ordinary sign out: cookie cleared, session ended.
    await h.openSessions(b.page);
    await Promise.all([
      b.page.waitForURL((u) => u.pathname === "/login"),
      rowOf(b.page, b.fingerprint).getByRole("button", { name: "Sign out of this device" }).click(),
    ]);
    assert.equal(h.path(b.page), "/login?bye=1");
    assert.equal(await h.next(b.page), "/login?next=%2F");
    assert.deepEqual(errors, []);
    for (const s of [a, b, c]) await s.context.close();
  });

  it("the dashboard links to the page", async () => {
    const a = await h.signedIn("admin");
    const link = a.page.getByRole("main").getByRole("link", { name: "your sessions" });
    assert.equal(await link.getAttribute("href"), "/sessions");
    await Promise.all([a.page.waitForURL((u) => u.pathname === "/sessions"), link.click()]);
    await a.page.locator("#sessions").waitFor({ state: "visible" });
    assert.equal(await a.page.getByRole("heading", { level: 1 }).textContent(), "Your sessions");
    assert.deepEqual(await ids(a.page), [a.fingerprint]);
    await a.context.close();
  });

  it("no gate log line holds a session cookie or a sid", () => {
    assert.ok(h.cookies.size >= 7, `saw ${h.cookies.size} session cookies`);
    for (const value of h.cookies) {
      for (const secret of [value, sidOf(value)]) {
        assert.ok(!h.stack.gate.logs.some((l) => l.includes(secret)), "a session cookie or sid in a log line");
      }
    }
  });
});

describe("your sessions, MAX_SESSIONS=2", () => {
  const h = harness("browser-sessions-limit", { MAX_SESSIONS: "2" });

  it("a third sign-in evicts the oldest: A is sent to sign in, B and C are not, the page lists two", async () => {
    const a = await h.signedIn("alice");
    const b = await h.signedIn("alice");
    const c = await h.signedIn("alice");
    assert.equal(await h.next(a.page), "/login?next=%2F", "A, the oldest, was evicted");
    assert.equal(await h.next(b.page), "/");
    assert.equal(await h.next(c.page), "/");
    await h.openSessions(c.page);
    assert.equal(await rows(c.page).count(), 2);
    assert.deepEqual((await ids(c.page)).sort(), [b.fingerprint, c.fingerprint].sort());
    assert.equal(await c.page.getByRole("row", { name: /This device/ }).getAttribute("data-id"), c.fingerprint);
    for (const s of [a, b, c]) await s.context.close();
  });
});

describe("your sessions, directory off", () => {
  const h = harness("browser-sessions-off", { SESSION_DIRECTORY: "off" });

  it("the page says the directory is off instead of breaking", async () => {
    const a = await h.signedIn("alice");
    // The gate's 404 for /.session-gate/sessions is reported as a failed resource.
    const errors = watchConsole(a.page, (msg) => /status of 404/.test(msg.text()));
    await a.page.goto(`${h.base}/sessions`);
    await a.page.getByText("its session directory is off").waitFor();
    assert.equal(await a.page.locator("#sessions").isVisible(), false);
    assert.equal(await a.page.locator("#sessions-loading").isVisible(), false);
    assert.equal(await a.page.getByRole("button", { name: "Sign out everywhere else" }).count(), 0);
    assert.equal(await a.page.getByRole("link", { name: "change your password" }).getAttribute("href"), "/account");
    assert.deepEqual(errors, []);
    await a.context.close();
  });
});
