// Datasette 0.65 behind the gate, unchanged: browse a table (and follow a
// link Datasette builds), then submit a form POST that Datasette protects
// with its own CSRF token (asgi-csrf): its `/-/messages` form.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { promisify } from "node:util";
import { execFile } from "node:child_process";
import { venv, startApp, answers, startAppGate, gateContext, launchBrowser, tempDir, freePort } from "./apps.mjs";

const run = promisify(execFile);
const env = await venv();
if (env.skip) console.log(env.skip);

describe("Datasette through the gate", { skip: env.skip }, () => {
  let app, gate, browser;

  before(async () => {
    const dir = tempDir("datasette");
    const db = path.join(dir, "birds.db");
    await run(env.python, ["-c", `
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("create table birds (id integer primary key, name text, wingspan_cm integer)")
db.executemany("insert into birds (name, wingspan_cm) values (?, ?)",
               [("Robin", 21), ("Wren", 15), ("Albatross", 340), ("Kestrel", 76)])
db.commit()
`, db]);
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    app = await startApp(env.python, ["-m", "datasette", "serve", db, "-h", "127.0.0.1", "-p", String(port)],
      { cwd: dir, name: "datasette", ready: () => answers(`${url}/-/versions.json`) });
    gate = await startAppGate("datasette", url);
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await gate?.stop();
    await app?.stop();
  });

  it("browses a table, follows a row link and reads its JSON", async () => {
    const context = await gateContext(browser, gate, "alice");
    const page = await context.newPage();
    await page.goto(`${gate.url}/birds`);
    await page.click("a[href='/birds/birds']");
    await page.waitForURL((u) => u.pathname === "/birds/birds");
    assert.equal(new URL(page.url()).origin, gate.url);
    assert.match(await page.locator("h3").first().textContent(), /4 rows/);
    const names = await page.locator("td.col-name").allTextContents();
    assert.deepEqual(names.map((n) => n.trim()), ["Robin", "Wren", "Albatross", "Kestrel"]);
    // A sorted view, through a link Datasette wrote.
    await page.goto(`${gate.url}/birds/birds?_sort_desc=wingspan_cm`);
    assert.equal((await page.locator("td.col-name").first().textContent()).trim(), "Albatross");
    const json = await page.evaluate(async () => (await fetch("/birds/birds.json?_shape=array&name=Wren")).json());
    assert.deepEqual(json, [{ id: 2, name: "Wren", wingspan_cm: 15 }]);
    await context.close();
  });

  it("submits the /-/messages form with Datasette's own CSRF token", async () => {
    const context = await gateContext(browser, gate, "alice");
    const page = await context.newPage();
    await page.goto(`${gate.url}/-/messages`);
    await page.fill("input[name=message]", "hello through the gate");
    const [post] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith("/-/messages") && r.request().method() === "POST"),
      page.click("input[type=submit]"),
    ]);
    assert.equal(post.status(), 302, `the form POST is accepted (got ${post.status()})`);
    await page.waitForURL((u) => u.pathname === "/");
    assert.equal(new URL(page.url()).origin, gate.url, "Datasette's redirect stays on the gate");
    assert.match(await page.locator(".message-info").textContent(), /hello through the gate/);
    // Without the token, Datasette refuses the same POST itself.
    const forged = await page.evaluate(async () => (await fetch("/-/messages", {
      method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: "message=x", redirect: "manual",
    })).status);
    assert.equal(forged, 403);
    await context.close();
  });
});
