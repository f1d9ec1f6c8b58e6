// The browser tests' stack: Debian's Chromium (headless, driven by
// playwright-core, never a downloaded browser), the real built worker under
// `wrangler dev` (tests/e2e/harness.mjs), and the Rust demo origin
// (target/debug/demo-origin) on a free loopback port.
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { chromium } from "playwright-core";
import { startGate, keygen, freePort, rememberCookie, ROOT } from "../e2e/harness.mjs";

export const CHROMIUM = "/usr/bin/chromium";
export const DEMO_ORIGIN = path.join(ROOT, "target", "debug", "demo-origin");
export const COOKIE = "__Host-session";

/** Headless Chromium with a fresh profile (playwright makes a new temporary user-data-dir per launch). */
export async function launchBrowser() {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run 'make chromium'`);
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--no-sandbox",
      "--headless",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--disable-dev-shm-usage",
    ],
  });
}

/** The ORIGIN_SECRET the browser stack's gate and demo origin share (handshakes are signed). */
export const ORIGIN_SECRET = "browser-stack-origin-secret-0123456789abcdef";

/** Starts target/debug/demo-origin on a free loopback port, signing its handshakes with `secret`. */
export async function startDemoOrigin({ secret = ORIGIN_SECRET } = {}) {
  if (!fs.existsSync(DEMO_ORIGIN)) throw new Error(`${DEMO_ORIGIN} is missing: run 'make demo-origin'`);
  const port = await freePort();
  const child = spawn(DEMO_ORIGIN, [], {
    env: { ...process.env, DEMO_ORIGIN_PORT: String(port), ORIGIN_SECRET: secret ?? "" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (c) => { output += c; });
  child.stderr.on("data", (c) => { output += c; });
  const deadline = Date.now() + 10_000;
  while (!output.includes("listening on")) {
    if (child.exitCode !== null) throw new Error(`demo-origin exited early:\n${output}`);
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`demo-origin did not start:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url: `http://127.0.0.1:${port}`,
    output: () => output,
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.on("exit", resolve));
      child.kill("SIGTERM");
      await exited;
    },
  };
}

/** The dev environment's BOUND_IDS (wrangler.toml [env.dev.vars]): the Assistant's conversation URLs. */
export const BOUND_IDS = "path:/assistant/threads/{thread}";

/**
 * The demo as `make dev` runs it (the dev environment's public paths, bound
 * ids and session directory), with `vars` overriding settings. Returns
 * { gate, origin, url, stop }.
 */
export async function startStack({ name = "browser", vars = {} } = {}) {
  const origin = await startDemoOrigin();
  let gate;
  try {
    gate = await startGate({
      name,
      vars: { ORIGIN_URL: origin.url, PUBLIC_PATHS: "/welcome,/assets/*,/favicon.ico", LOGIN_PATH: "/login", BOUND_IDS, SESSION_DIRECTORY: "on", ...vars },
      secrets: { SESSION_KEYS: await keygen("k1"), ORIGIN_SECRET },
    });
  } catch (e) {
    await origin.stop();
    throw e;
  }
  return {
    gate,
    origin,
    url: gate.url,
    async stop() {
      await gate.stop();
      await origin.stop();
    },
  };
}

/**
 * `page.goto(url)` that outlasts one stall of wrangler's local dev proxy.
 * Sometimes, most often on the first load after an event stream, a request
 * the browser sent is read by the proxy (the workerd process on the public
 * port) and never passed on. The gate's Worker, instrumented, never saw it;
 * the demo origin never got it; the proxy had no connection open to the
 * Worker's workerd (scripts/test-browser.sh has the evidence). The page's
 * `load` then never comes. This waits `timeout` for it, says on stderr
 * that it did not come, and loads the page once more; a second stall, a
 * wrong status or anything else still fails the test.
 */
export async function gotoPastDevProxyStall(page, url, { timeout = 15_000 } = {}) {
  try {
    return await page.goto(url, { timeout });
  } catch (e) {
    if (e?.name !== "TimeoutError") throw e;
    console.error(`# ${new URL(url).pathname}: no load event in ${timeout} ms (wrangler dev proxy stall); loading it once more`);
    return await page.goto(url, { timeout });
  }
}

/**
 * Records console errors and uncaught exceptions of `page`. `allow(msg)`
 * may excuse a console message.
 */
export function watchConsole(page, allow = () => false) {
  const errors = [];
  page.on("console", (msg) => {
    if (msg.type() === "error" && !allow(msg)) errors.push(`${msg.text()} (${msg.location().url})`);
  });
  page.on("pageerror", (err) => errors.push(`uncaught: ${err.message}`));
  return errors;
}

/**
 * Signs in through the login form, starting from `path`, and waits for the
 * page it lands on. It outlasts one stall of wrangler's dev proxy (see
 * `gotoPastDevProxyStall`), seen once at this form under load: if the
 * browser is still on the form after `timeout`, the form is loaded and
 * submitted once more; if it left the form but the new page's `load` never came, that page
 * is loaded once more. Each says so on stderr; a second stall fails.
 */
export async function signIn(page, base, user, password = user, path = "/", { timeout = 15_000 } = {}) {
  await gotoPastDevProxyStall(page, base + path, { timeout });
  await page.waitForURL((u) => u.pathname === "/login");
  const submit = async (waitFor) => {
    await page.getByLabel("Username").fill(user);
    await page.getByLabel("Password").fill(password);
    await Promise.all([
      page.waitForURL((u) => u.pathname !== "/login", { timeout: waitFor }),
      page.getByRole("button", { name: "Sign in" }).click(),
    ]);
  };
  try {
    await submit(timeout);
  } catch (e) {
    if (e?.name !== "TimeoutError") throw e;
    const at = new URL(page.url());
    if (at.pathname === "/login") {
      console.error(`# sign-in: still on the form after ${timeout} ms (wrangler dev proxy stall); loading it and submitting it once more`);
      // A new navigation cancels the stalled submission.
      await page.goto(at.href, { timeout });
      await submit(timeout);
    } else {
      console.error(`# ${at.pathname}: no load event in ${timeout} ms after sign-in (wrangler dev proxy stall); loading it once more`);
      await page.goto(at.href, { timeout });
    }
  }
}

/** The session cookie of a browser context, remembered for the log leak checks. */
export async function sessionCookie(context) {
  const cookie = (await context.cookies()).find((c) => c.name === COOKIE);
  if (cookie) rememberCookie(cookie.value);
  return cookie;
}

/** The sid inside a cookie value (for log checks only). */
export function sidOf(value) {
  return JSON.parse(Buffer.from(value.split(".")[2], "base64url").toString("utf8")).sid;
}
