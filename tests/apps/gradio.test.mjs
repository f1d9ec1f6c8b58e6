// Gradio's ChatInterface behind the gate, unchanged: a message typed in
// Chromium, and the reply streamed back a token at a time (Gradio's queue
// over server-sent events) through the gate, seen growing in the page.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { venv, startApp, answers, startAppGate, gateContext, launchBrowser, tempDir, freePort } from "./apps.mjs";
import { ROOT } from "../e2e/harness.mjs";

const env = await venv();
if (env.skip) console.log(env.skip);

const FINAL = "echo(hi there): the gate streams every token as it is made";

describe("Gradio chat through the gate", { skip: env.skip }, () => {
  let app, gate, browser;

  before(async () => {
    const dir = tempDir("gradio");
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    app = await startApp(env.python, [path.join(ROOT, "tests", "apps", "gradio_chat.py"), String(port)], {
      cwd: dir,
      name: "gradio",
      ms: 120_000,
      // No telemetry, no version check, no share link: a test must not phone home.
      env: { GRADIO_ANALYTICS_ENABLED: "False", HF_HUB_OFFLINE: "1", GRADIO_TEMP_DIR: path.join(dir, "tmp") },
      ready: () => answers(`${url}/config`),
    });
    gate = await startAppGate("gradio", url);
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await gate?.stop();
    await app?.stop();
  });

  it("streams a chat reply token by token into the page", async () => {
    const context = await gateContext(browser, gate, "alice");
    const page = await context.newPage();
    await page.goto(`${gate.url}/`);
    const box = page.getByRole("textbox").first();
    await box.waitFor({ timeout: 30_000 });
    // Record every distinct text the bot's message shows, as it changes.
    await page.evaluate(() => {
      window.__seen = [];
      const note = () => {
        const bots = document.querySelectorAll("[data-testid='bot']");
        const text = bots.length ? bots[bots.length - 1].textContent.trim() : "";
        if (text && window.__seen[window.__seen.length - 1] !== text) window.__seen.push(text);
      };
      new MutationObserver(note).observe(document.body, { subtree: true, childList: true, characterData: true });
    });
    await box.fill("hi there");
    await box.press("Enter");
    await page.waitForFunction((final) => window.__seen.some((t) => t.includes(final)), FINAL, { timeout: 30_000 });
    const seen = await page.evaluate(() => window.__seen);
    const partial = seen.filter((t) => !t.includes(FINAL) && FINAL.startsWith(t));
    assert.ok(partial.length >= 3, `the reply arrived in pieces, not at once: ${JSON.stringify(seen)}`);
    assert.equal(new URL(page.url()).origin, gate.url);
    await context.close();
  });
});
