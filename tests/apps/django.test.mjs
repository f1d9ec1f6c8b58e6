// Django 5.2's admin behind the gate, unchanged: a project exactly as
// `django-admin startproject` writes it (its CsrfViewMiddleware checks
// Origin against its own Host), signed in through the admin's own login
// form in Chromium, and a change form saved.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { promisify } from "node:util";
import { execFile } from "node:child_process";
import { venv, startApp, answers, startAppGate, gateContext, launchBrowser, tempDir, freePort } from "./apps.mjs";

const run = promisify(execFile);
const env = await venv();
if (env.skip) console.log(env.skip);

describe("Django admin through the gate", { skip: env.skip }, () => {
  let app, gate, browser, dir, manage;
  const PASSWORD = "correct-horse-battery-staple";

  before(async () => {
    dir = tempDir("django");
    await run(env.python, ["-m", "django", "startproject", "gated", dir]);
    manage = async (...args) => run(env.python, ["manage.py", ...args], { cwd: dir });
    await manage("migrate", "--noinput");
    await run(env.python, ["manage.py", "createsuperuser", "--noinput", "--username", "admin", "--email", "admin@example.test"],
      { cwd: dir, env: { ...process.env, DJANGO_SUPERUSER_PASSWORD: PASSWORD } });
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    app = await startApp(env.python, ["manage.py", "runserver", "--noreload", `127.0.0.1:${port}`],
      { cwd: dir, name: "django", ready: () => answers(`${url}/admin/login/`) });
    gate = await startAppGate("django", url);
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await gate?.stop();
    await app?.stop();
  });

  it("signs in through the admin's login form and saves a user's change form", async () => {
    const context = await gateContext(browser, gate, "alice");
    const page = await context.newPage();
    await page.goto(`${gate.url}/admin/`);
    // Django's own redirect to its login form (a relative Location).
    assert.equal(new URL(page.url()).origin, gate.url, "the browser stays on the gate");
    assert.equal(new URL(page.url()).pathname, "/admin/login/");
    await page.fill("#id_username", "admin");
    await page.fill("#id_password", PASSWORD);
    const [login] = await Promise.all([
      page.waitForResponse((r) => r.url().includes("/admin/login/") && r.request().method() === "POST"),
      page.click("input[type=submit]"),
    ]);
    assert.equal(login.status(), 302, `the sign-in POST passes Django's CSRF check (got ${login.status()})`);
    await page.waitForURL((u) => u.pathname === "/admin/");
    assert.equal(new URL(page.url()).origin, gate.url);
    assert.match(await page.locator("#site-name").textContent(), /Django administration/);

    // The change form of the admin user: set a first name and save.
    await page.goto(`${gate.url}/admin/auth/user/1/change/`);
    await page.fill("#id_first_name", "Ada");
    const [save] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith("/admin/auth/user/1/change/") && r.request().method() === "POST"),
      page.click("input[name=_save]"),
    ]);
    assert.equal(save.status(), 302, `the change form's POST is accepted (got ${save.status()})`);
    await page.waitForURL((u) => u.pathname === "/admin/auth/user/");
    assert.equal(new URL(page.url()).origin, gate.url);
    assert.match(await page.locator(".messagelist").textContent(), /was changed successfully/);
    // And Django stored it.
    const { stdout } = await manage("shell", "-c", "from django.contrib.auth.models import User; print(User.objects.get(pk=1).first_name)");
    assert.equal(stdout.trim().split("\n").pop(), "Ada");
    await context.close();
  });
});
