// Jupyter Server 2.21 (Tornado) with ipykernel behind the gate: from a page
// on the gate's origin in Chromium, start a kernel with the REST API (an
// XSRF-checked POST Tornado also origin-checks) and run `print(6*7)` over
// the kernel's WebSocket, which Tornado origin-checks too.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { venv, startApp, answers, startAppGate, gateContext, launchBrowser, tempDir, freePort } from "./apps.mjs";

const env = await venv();
if (env.skip) console.log(env.skip);

describe("Jupyter Server through the gate", { skip: env.skip }, () => {
  let app, gate, browser;

  before(async () => {
    const dir = tempDir("jupyter");
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    app = await startApp(env.python, [
      "-m", "jupyter_server", "--no-browser", "--ServerApp.ip=127.0.0.1", `--ServerApp.port=${port}`,
      "--ServerApp.port_retries=0", `--ServerApp.root_dir=${dir}`,
      // The one setting: Jupyter's own token is redundant behind the gate.
      "--IdentityProvider.token=",
      // Not about the gate: this machine's CI runs as root, which Jupyter refuses by default.
      ...(process.getuid?.() === 0 ? ["--allow-root"] : []),
    ], {
      cwd: dir,
      name: "jupyter",
      env: {
        JUPYTER_CONFIG_DIR: path.join(dir, ".config"),
        JUPYTER_DATA_DIR: path.join(dir, ".data"),
        JUPYTER_RUNTIME_DIR: path.join(dir, ".runtime"),
        IPYTHONDIR: path.join(dir, ".ipython"),
      },
      ready: () => answers(`${url}/api`),
    });
    gate = await startAppGate("jupyter", url);
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await gate?.stop();
    await app?.stop();
  });

  it("starts a kernel and runs print(6*7) over its WebSocket, from the page", async () => {
    const context = await gateContext(browser, gate, "alice");
    const page = await context.newPage();
    // Jupyter's own HTML page (its API answers carry `default-src 'none'`);
    // rendering it sets the `_xsrf` cookie its REST calls send back in X-XSRFToken.
    const home = await page.goto(`${gate.url}/`);
    assert.equal(home.status(), 200);
    const result = await page.evaluate(async () => {
      const xsrf = decodeURIComponent((document.cookie.match(/(?:^|; )_xsrf=([^;]*)/) || [])[1] || "");
      const started = await fetch("/api/kernels", {
        method: "POST",
        headers: { "content-type": "application/json", "x-xsrftoken": xsrf },
        body: JSON.stringify({ name: "python3" }),
      });
      const startedBody = await started.text();
      if (started.status !== 201) return { step: "start", status: started.status, body: startedBody, xsrf: !!xsrf };
      const kernel = JSON.parse(startedBody);
      const session = crypto.randomUUID();
      // The URL JupyterLab opens: `?session_id=` is in the gate's default
      // SESSION_PARAMS, so the gate removes it (it once answered 302 here,
      // which no WebSocket follows) and Jupyter makes up a session of its own.
      const ws = new WebSocket(`${location.origin.replace(/^http/, "ws")}/api/kernels/${kernel.id}/channels?session_id=${session}`);
      const output = await new Promise((resolve) => {
        const timer = setTimeout(() => resolve({ step: "ws", error: "no output within 60 s" }), 60_000);
        ws.onerror = () => { clearTimeout(timer); resolve({ step: "ws", error: "websocket error" }); };
        ws.onclose = (e) => { clearTimeout(timer); resolve({ step: "ws", error: `closed ${e.code}` }); };
        const msgId = crypto.randomUUID();
        ws.onopen = () => ws.send(JSON.stringify({
          header: { msg_id: msgId, username: "alice", session, msg_type: "execute_request", version: "5.3", date: new Date().toISOString() },
          parent_header: {},
          metadata: {},
          content: { code: "print(6*7)", silent: false, store_history: false, user_expressions: {}, allow_stdin: false, stop_on_error: true },
          channel: "shell",
          buffers: [],
        }));
        ws.onmessage = (event) => {
          const msg = JSON.parse(event.data);
          if (msg.parent_header?.msg_id === msgId && msg.msg_type === "stream") {
            clearTimeout(timer);
            ws.onclose = null;
            ws.close();
            resolve({ step: "done", channel: msg.channel, text: msg.content.text });
          }
        };
      });
      await fetch(`/api/kernels/${kernel.id}`, { method: "DELETE", headers: { "x-xsrftoken": xsrf } });
      return output;
    });
    assert.deepEqual(result, { step: "done", channel: "iopub", text: "42\n" });
    await context.close();
  });
});
