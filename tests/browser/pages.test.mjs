// Every page of the demo, in light and dark colour schemes: no console
// errors, landmarks, one h1, labelled controls, text contrast (WCAG AA) and
// a visible keyboard focus indicator.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { launchBrowser, startStack, signIn, watchConsole, gotoPastDevProxyStall } from "./stack.mjs";

/** Runs in the page: what an accessibility reviewer would check first. */
function audit() {
  const problems = [];
  const visible = (el) => {
    const s = getComputedStyle(el);
    const r = el.getBoundingClientRect();
    return s.display !== "none" && s.visibility !== "hidden" && r.width > 1 && r.height > 1;
  };
  const count = (selector) => document.querySelectorAll(selector).length;
  if (!document.documentElement.lang) problems.push("no lang on <html>");
  if (!document.title.trim()) problems.push("no title");
  if (count("main") !== 1) problems.push(`${count("main")} <main> elements`);
  if (count("body > header") !== 1) problems.push("no banner <header>");
  if (count("body > footer") !== 1) problems.push("no contentinfo <footer>");
  if (count("nav[aria-label]") < 1) problems.push("no labelled <nav>");
  if (count("h1") !== 1) problems.push(`${count("h1")} h1 elements`);
  const ids = [...document.querySelectorAll("[id]")].map((e) => e.id);
  for (const id of new Set(ids)) if (ids.filter((x) => x === id).length > 1) problems.push(`duplicate id ${id}`);
  for (const img of document.querySelectorAll("img")) if (!img.hasAttribute("alt")) problems.push(`img without alt: ${img.src}`);
  for (const el of document.querySelectorAll("input, select, textarea, progress")) {
    if (el.type === "hidden" || el.hidden) continue;
    const named = el.labels?.length > 0 || el.getAttribute("aria-label") || el.getAttribute("aria-labelledby");
    if (!named) problems.push(`unlabelled ${el.tagName.toLowerCase()}#${el.id}`);
  }
  for (const el of document.querySelectorAll("button, a[href]")) {
    if (visible(el) && !el.textContent.trim() && !el.getAttribute("aria-label")) problems.push(`nameless ${el.outerHTML}`);
  }

  // Text contrast: each element with its own text, against the composited background.
  const parse = (c) => {
    const m = /rgba?\(([\d.]+),? ([\d.]+),? ([\d.]+)(?:,? \/? ?([\d.]+))?\)/.exec(c);
    if (!m) throw new Error(`unparsed colour ${c}`);
    return [Number(m[1]), Number(m[2]), Number(m[3]), m[4] === undefined ? 1 : Number(m[4])];
  };
  const over = ([r, g, b, a], [R, G, B]) => [r * a + R * (1 - a), g * a + G * (1 - a), b * a + B * (1 - a), 1];
  const background = (el) => {
    const layers = [];
    for (let e = el; e; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c[3] > 0) layers.push(c);
      if (c[3] === 1) break;
    }
    // The site paints its own background; a page without one is reported.
    let bg = [255, 255, 255, 1];
    if (!layers.some((l) => l[3] === 1)) problems.push(`no opaque background behind <${el.tagName.toLowerCase()}>`);
    for (const layer of layers.reverse()) bg = over(layer, bg);
    return bg;
  };
  const luminance = ([r, g, b]) => {
    const f = (v) => ((v /= 255) <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  let checked = 0;
  for (const el of document.body.querySelectorAll("*")) {
    const ownText = [...el.childNodes].some((n) => n.nodeType === Node.TEXT_NODE && n.textContent.trim());
    if (!ownText || !visible(el) || el.closest("[hidden], .sr-only, .skip-link") || el.disabled) continue;
    const s = getComputedStyle(el);
    const bg = background(el);
    const fg = over(parse(s.color), bg);
    const [l1, l2] = [luminance(fg), luminance(bg)].sort((x, y) => y - x);
    const ratio = (l1 + 0.05) / (l2 + 0.05);
    const size = parseFloat(s.fontSize);
    const large = size >= 24 || (size >= 18.66 && Number(s.fontWeight) >= 700);
    const need = large ? 3 : 4.5;
    checked++;
    if (ratio < need) problems.push(`contrast ${ratio.toFixed(2)} < ${need} for <${el.tagName.toLowerCase()}> "${el.textContent.trim().slice(0, 40)}"`);
  }
  if (checked < 5) problems.push(`only ${checked} text elements checked`);
  return problems;
}

/**
 * Tabs through a freshly loaded page: the skip link is the first stop (or an
 * autofocused field already has focus), and every stop shows a focus ring.
 */
async function keyboardFocus(page) {
  const problems = [];
  const start = await page.evaluate(() => (document.activeElement === document.body ? null : document.activeElement.outerHTML));
  if (start === null) {
    await page.keyboard.press("Tab");
    const first = await page.evaluate(() => {
      const el = document.activeElement;
      const r = el.getBoundingClientRect();
      return { text: el.textContent.trim(), inView: r.top >= 0 && r.bottom <= innerHeight && r.width > 1 };
    });
    if (first.text !== "Skip to content" || !first.inView) problems.push(`first tab stop: ${JSON.stringify(first)}`);
  } else if (!start.includes("autofocus")) {
    problems.push(`focus starts on ${start}`);
  }
  for (let i = 0; i < 12; i++) {
    const ring = await page.evaluate(() => {
      const el = document.activeElement;
      if (!el || el === document.body) return null;
      const s = getComputedStyle(el);
      return { what: el.outerHTML.slice(0, 60), style: s.outlineStyle, width: parseFloat(s.outlineWidth) };
    });
    if (ring && (ring.style === "none" || ring.width < 2)) problems.push(`no focus ring on ${ring.what}`);
    await page.keyboard.press("Tab");
  }
  return problems;
}

describe("every page", () => {
  let stack, browser, base;
  before(async () => {
    stack = await startStack({ name: "browser-pages" });
    base = stack.url;
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await stack?.stop();
  });

  async function check(page, errors, url, { expectStatus = 200, ready } = {}) {
    const res = await gotoPastDevProxyStall(page, base + url);
    assert.equal(res.status(), expectStatus, url);
    if (ready) await page.waitForFunction(ready);
    assert.deepEqual(await page.evaluate(audit), [], `${url}: audit`);
    assert.deepEqual(await keyboardFocus(page), [], `${url}: keyboard focus`);
    assert.deepEqual(errors, [], `${url}: console errors`);
  }

  for (const colorScheme of ["light", "dark"]) {
    it(`public pages, ${colorScheme}`, async () => {
      const context = await browser.newContext({ colorScheme });
      const page = await context.newPage();
      const errors = watchConsole(page);
      await check(page, errors, "/welcome");
      await check(page, errors, "/login?next=%2F");
      await check(page, errors, "/login?bye=1");
      await context.close();
    });

    it(`signed-in pages as admin, ${colorScheme}`, async () => {
      const context = await browser.newContext({ colorScheme });
      const page = await context.newPage();
      const errors = watchConsole(page);
      await signIn(page, base, "admin");
      const dashboardReady = () => /^[0-9a-f]{32}$/.test(document.getElementById("me-fingerprint").textContent);
      await check(page, errors, "/", { ready: dashboardReady });
      await check(page, errors, "/?notice=password-changed", { ready: dashboardReady });
      await check(page, errors, "/account");
      await check(page, errors, "/sessions", { ready: () => document.querySelectorAll("#session-rows tr").length > 0 });
      await check(page, errors, "/admin");
      await check(page, errors, "/admin?revoked=bob");
      await check(page, errors, "/assistant");
      await Promise.all([
        page.waitForURL((u) => u.pathname.startsWith("/assistant/threads/")),
        page.getByRole("button", { name: "New conversation" }).click(),
      ]);
      await check(page, errors, new URL(page.url()).pathname);
      await page.getByRole("textbox", { name: "Message", exact: true }).fill("How do I revoke a session?");
      await page.getByRole("button", { name: "Send" }).click();
      await page.locator('#messages li[data-state="done"]').waitFor({ timeout: 20_000 });
      await check(page, errors, new URL(page.url()).pathname);
      await check(page, errors, "/welcome");
      await context.close();
    });

    it(`error pages and notices, ${colorScheme}`, async () => {
      const context = await browser.newContext({ colorScheme });
      const page = await context.newPage();
      // A 4xx page load is reported as a failed resource; nothing else may fail.
      const errors = watchConsole(page, (msg) => /status of (401|403|404)/.test(msg.text()));
      await page.goto(`${base}/login`);
      await page.getByLabel("Username").fill("alice");
      await page.getByLabel("Password").fill("nope");
      await page.getByRole("button", { name: "Sign in" }).click();
      await page.getByRole("alert").waitFor();
      await page.waitForLoadState("load");
      assert.deepEqual(await page.evaluate(audit), [], "failed sign-in: audit");
      await signIn(page, base, "alice");
      await check(page, errors, "/admin", { expectStatus: 403 });
      await check(page, errors, "/no-such-page", { expectStatus: 404 });
      await page.goto(`${base}/account`);
      await page.getByLabel("Current password").fill("wrong");
      await page.getByLabel("New password", { exact: true }).fill("x");
      await page.getByLabel("New password, again").fill("x");
      await page.getByRole("button", { name: "Change password" }).click();
      await page.getByRole("alert").waitFor();
      assert.equal(await page.getByRole("alert").textContent(), "Your current password is not right.");
      await page.waitForLoadState("load");
      assert.deepEqual(await page.evaluate(audit), [], "failed password change: audit");
      await context.close();
    });
  }
});
