// Idle timeout in a real browser, with short timeouts: the dashboard's
// countdown watches /.session-gate/me (which never counts as activity) and
// takes the browser to sign in when the gate would refuse the session.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { launchBrowser, startStack, signIn, sessionCookie, watchConsole, sidOf, COOKIE } from "./stack.mjs";

const IDLE = 4; // seconds
const ME = "/.session-gate/me";

describe("idle timeout in a browser", () => {
  let stack, browser, base;
  /** Session cookie values the browser held, for the leak check. */
  const held = [];
  before(async () => {
    stack = await startStack({
      name: "browser-idle",
      vars: { IDLE_TIMEOUT: IDLE, REFRESH_INTERVAL: 1, ABSOLUTE_TIMEOUT: 120 },
    });
    base = stack.url;
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await stack?.stop();
  });

  const seconds = (text) => {
    const m = /^(\d+):(\d\d)$/.exec(text);
    assert.ok(m, `a m:ss countdown, not ${JSON.stringify(text)}`);
    return Number(m[1]) * 60 + Number(m[2]);
  };
  // When the session ends, the page's check of /me answers 401, which
  // Chromium reports as a failed resource load; nothing else may fail.
  const endOfSession = (msg) => msg.location().url.endsWith(ME) && msg.text().includes("401");

  /** Where the page is, path and query. */
  const path = (page) => new URL(page.url()).pathname + new URL(page.url()).search;

  /** The idle deadline the dashboard shows (ms since the epoch, the gate's clock: this machine's). */
  async function idleDeadline(page) {
    await page.waitForFunction(() => document.getElementById("idle-at").dateTime !== "");
    return Date.parse(await page.locator("#idle-at").getAttribute("datetime"));
  }

  it("an idle dashboard takes you to sign in when the idle timeout ends, not before", async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const errors = watchConsole(page, endOfSession);
    const meCalls = [];
    page.on("request", (r) => { if (new URL(r.url()).pathname === ME) meCalls.push(Date.now()); });
    await signIn(page, base, "alice");
    assert.equal(path(page), "/");
    const cookie = await sessionCookie(context);
    held.push(cookie.value);
    const deadline = await idleDeadline(page);
    const left = seconds(await page.locator("#idle-left").textContent());
    assert.ok(left >= 1 && left <= IDLE, `counting down from ${IDLE}s (${left})`);
    assert.equal(await page.locator("#idle-total").textContent(), `${IDLE} s`);

    // Nothing touches the page: it must notice on its own.
    await page.waitForURL((u) => u.pathname === "/login", { timeout: (IDLE + 10) * 1000 });
    const late = Date.now() - deadline;
    assert.equal(path(page), "/login?next=%2F");
    assert.ok(late >= 0, `not signed out before the deadline (${late} ms)`);
    assert.ok(late <= 5000, `signed out soon after the deadline (${late} ms late)`);
    assert.ok(meCalls.length >= 2, "the page asked the gate, not its own clock alone");
    assert.equal(await sessionCookie(context), undefined, "the gate cleared the dead cookie");
    const res = await stack.gate.fetch("/whoami", { headers: { cookie: `${COOKIE}=${cookie.value}` } });
    assert.equal(res.status, 401);
    assert.equal((await res.json()).reason, "expired");
    assert.deepEqual(errors, []);
    await context.close();
  });

  it("activity moves the idle deadline; watching the countdown does not", async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const errors = watchConsole(page, endOfSession);
    await signIn(page, base, "bob");
    const firstDeadline = await idleDeadline(page);

    // Past REFRESH_INTERVAL, a request through the gate re-signs the cookie.
    await page.waitForTimeout(Math.max(0, firstDeadline - IDLE * 1000 + 2500 - Date.now()));
    await page.getByRole("button", { name: "I\u2019m still here" }).click();
    await page.waitForFunction(
      (first) => Date.parse(document.getElementById("idle-at").dateTime) > first,
      firstDeadline,
    );
    const secondDeadline = await idleDeadline(page);
    held.push((await sessionCookie(context)).value);
    assert.ok(secondDeadline - firstDeadline >= 2000, "the deadline moved by the time idled");
    assert.ok(seconds(await page.locator("#idle-left").textContent()) >= IDLE - 2);

    // Past the first deadline the session is alive and the page stays.
    await page.waitForTimeout(Math.max(0, firstDeadline + 500 - Date.now()));
    assert.equal(path(page), "/", "still on the dashboard after the first deadline");
    const me = await page.evaluate(async (url) => (await fetch(url)).status, ME);
    assert.equal(me, 200, "the gate agrees");

    await page.waitForURL((u) => u.pathname === "/login", { timeout: (IDLE + 10) * 1000 });
    const late = Date.now() - secondDeadline;
    assert.ok(late >= 0 && late <= 5000, `signed out at the second deadline (${late} ms late)`);
    assert.deepEqual(errors, []);
    await context.close();
  });

  it("no gate log line and no demo origin line holds a session cookie or a sid", () => {
    assert.ok(held.length >= 2);
    const lines = [...stack.gate.logs, ...stack.origin.output().split("\n")];
    assert.ok(lines.length > 10, `${lines.length} lines`);
    for (const value of held) {
      for (const secret of [value, sidOf(value)]) assert.ok(!lines.some((l) => l.includes(secret)), "a session cookie or sid in a log line");
    }
  });
});
