// Regenerates docs/img/login.png, docs/img/dashboard.png and
// docs/img/sessions.png: the demo as `make dev` runs it (session directory
// on), in headless Chromium. Needs what `make test-browser`
// needs (the built worker, target/debug/demo-origin, /usr/bin/chromium):
//   make build cli demo-origin chromium && node scripts/screenshots.mjs
import fs from "node:fs";
import path from "node:path";
import { launchBrowser, startStack, signIn } from "../tests/browser/stack.mjs";
import { ROOT } from "../tests/e2e/harness.mjs";

const out = path.join(ROOT, "docs", "img");
fs.mkdirSync(out, { recursive: true });
const stack = await startStack({ name: "screenshots" });
const browser = await launchBrowser();
try {
  const context = await browser.newContext({ viewport: { width: 1200, height: 760 }, colorScheme: "light" });
  const page = await context.newPage();
  await page.goto(`${stack.url}/`);
  await page.waitForURL((u) => u.pathname === "/login");
  await page.screenshot({ path: path.join(out, "login.png") });
  await signIn(page, stack.url, "alice");
  await page.waitForFunction(() => /^[0-9a-f]{32}$/.test(document.getElementById("me-fingerprint").textContent));
  await page.waitForTimeout(1200); // a visible tick of both countdowns
  await page.screenshot({ path: path.join(out, "dashboard.png"), fullPage: true });
  // Two more browser profiles signed in as alice, sending the User-Agent of
  // other browsers, so "Your sessions" has rows that differ.
  for (const userAgent of [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
  ]) {
    const other = await browser.newContext({ userAgent });
    await signIn(await other.newPage(), stack.url, "alice");
  }
  await page.goto(`${stack.url}/sessions`);
  await page.waitForFunction(() => document.querySelectorAll("#session-rows tr").length === 3);
  await page.screenshot({ path: path.join(out, "sessions.png"), fullPage: true });
  const names = ["login.png", "dashboard.png", "sessions.png"].map((f) => path.join("docs", "img", f));
  console.log(`wrote ${names.join(", ")}`);
} finally {
  await browser.close();
  await stack.stop();
}
