// Regenerates docs/img/login.png and docs/img/dashboard.png: the demo as
// `make dev` runs it, in headless Chromium. Needs what `make test-browser`
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
  console.log(`wrote ${path.join("docs", "img", "login.png")} and ${path.join("docs", "img", "dashboard.png")}`);
} finally {
  await browser.close();
  await stack.stop();
}
