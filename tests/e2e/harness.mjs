// End-to-end harness: the real built worker (build/index.js) under
// `wrangler dev`, in front of a loopback origin that records every request
// that reaches it. Each gate gets its own directory (wrangler.toml, .dev.vars,
// local KV state), so suites never share state.
import { spawn, execFile } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { fileURLToPath } from "node:url";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const WRANGLER = path.join(ROOT, "node_modules", ".bin", "wrangler");
const CLI = path.join(ROOT, "target", "debug", "session-gate");
const run = promisify(execFile);

/** Every log line any gate printed during this process. */
export const allLogLines = [];

// Every log line of the whole suite, and every secret the suite handled,
// are appended to files that tests/e2e/logs.check.mjs reads at the end.
const STATE = path.join(ROOT, "tests", "e2e", ".state");
fs.mkdirSync(STATE, { recursive: true });
export const LOG_FILE = path.join(STATE, "logs.jsonl");
export const SECRETS_FILE = path.join(STATE, "secrets.txt");

/** Remembers a value that must never appear in a log line. */
export function rememberSecret(value) {
  if (value && String(value).length >= 8) fs.appendFileSync(SECRETS_FILE, `${value}\n`);
}

/** Remembers a session cookie value and the sid inside it. */
export function rememberCookie(value) {
  rememberSecret(value);
  try {
    rememberSecret(JSON.parse(Buffer.from(String(value).split(".")[2], "base64url").toString("utf8")).sid);
  } catch {
    // not a well-formed cookie: the value itself is remembered
  }
}

export async function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/**
 * A loopback origin that records every request. `respond(req, body)` may
 * return {status, headers, body} to override the default JSON echo, or
 * {raw} to write that response byte for byte on the socket. With
 * `{ upgrade: true }` it also completes WebSocket handshakes (recorded with
 * `upgrade: true`; `respond` may add response headers to the 101).
 */
export async function startOrigin(respond, { upgrade = false } = {}) {
  const requests = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      const record = { method: req.method, url: req.url, headers: req.headers, rawHeaders: req.rawHeaders, body };
      requests.push(record);
      const custom = respond ? respond(record) : undefined;
      if (custom?.raw !== undefined) {
        // Bytes exactly as given (Node refuses bare CR or LF in header
        // values; a hand-written or reflecting origin does not).
        req.socket.end(Buffer.from(custom.raw, "latin1"));
        return;
      }
      if (custom?.stream) {
        // A streamed body: `stream(res)` writes and ends it when it likes.
        res.writeHead(custom.status ?? 200, custom.headers ?? {});
        custom.stream(res);
        return;
      }
      if (custom) {
        res.writeHead(custom.status ?? 200, custom.headers ?? {});
        res.end(custom.body ?? "");
        return;
      }
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ origin: true, method: req.method, url: req.url, bytes: body.length }));
    });
  });
  const upgraded = new Set();
  if (upgrade) {
    server.on("upgrade", (req, socket) => {
      socket.on("error", () => {});
      upgraded.add(socket);
      socket.on("close", () => upgraded.delete(socket));
      const record = { method: req.method, url: req.url, headers: req.headers, rawHeaders: req.rawHeaders, body: Buffer.alloc(0), upgrade: true };
      requests.push(record);
      const custom = respond ? respond(record) : undefined;
      const accept = createHash("sha1").update(`${req.headers["sec-websocket-key"]}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest("base64");
      const extra = Object.entries(custom?.headers ?? {})
        .flatMap(([name, value]) => [].concat(value).map((v) => `${name}: ${v}\r\n`))
        .join("");
      socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n${extra}\r\n`);
      if (!custom?.echo) {
        setTimeout(() => socket.end(), 200);
        return;
      }
      // An echo server: every text frame comes back; a close is answered.
      const frames = wsFrames((opcode, payload) => {
        if (opcode === 0x8) {
          socket.end(wsFrame(0x8, payload.subarray(0, 2)));
        } else {
          socket.write(wsFrame(opcode, payload));
        }
      });
      socket.on("data", frames);
    });
  }
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    /** Requests whose path starts with `prefix`. */
    seen(prefix) {
      return requests.filter((r) => r.url.startsWith(prefix));
    },
    close: () => new Promise((resolve) => {
      server.close(resolve);
      // Upgraded sockets are no longer HTTP connections: end them here, or
      // one the gate relayed could hold `close` open after the gate is gone.
      for (const socket of upgraded) socket.destroy();
      server.closeAllConnections();
    }),
  };
}

/** One WebSocket frame (FIN set), masked when `mask` (as a client must). */
export function wsFrame(opcode, payload, mask = false) {
  const data = Buffer.from(payload);
  const len = data.length;
  const head = len < 126 ? Buffer.from([0x80 | opcode, (mask ? 0x80 : 0) | len])
    : Buffer.from([0x80 | opcode, (mask ? 0x80 : 0) | 126, len >> 8, len & 0xff]);
  if (!mask) return Buffer.concat([head, data]);
  const key = Buffer.from([1, 2, 3, 4]);
  return Buffer.concat([head, key, Buffer.from(data.map((b, i) => b ^ key[i % 4]))]);
}

/** A parser of WebSocket frames arriving in chunks: calls `onFrame(opcode, payload)` per frame. */
export function wsFrames(onFrame) {
  let buffer = Buffer.alloc(0);
  return (chunk) => {
    buffer = Buffer.concat([buffer, chunk]);
    for (;;) {
      if (buffer.length < 2) return;
      let len = buffer[1] & 0x7f;
      let offset = 2;
      if (len === 126) {
        if (buffer.length < 4) return;
        len = buffer.readUInt16BE(2);
        offset = 4;
      }
      const masked = (buffer[1] & 0x80) !== 0;
      const total = offset + (masked ? 4 : 0) + len;
      if (buffer.length < total) return;
      let payload = buffer.subarray(offset + (masked ? 4 : 0), total);
      if (masked) {
        const key = buffer.subarray(offset, offset + 4);
        payload = Buffer.from(payload.map((b, i) => b ^ key[i % 4]));
      }
      const opcode = buffer[0] & 0x0f;
      buffer = buffer.subarray(total);
      onFrame(opcode, payload);
    }
  };
}

/**
 * A WebSocket client on a plain socket: resolves once the 101 arrived to
 * { status, send(text), messages, closed (a promise of the close code, or
 * null when the connection just ended) }.
 */
export function wsConnect(target, path, headers = {}) {
  const { hostname, port, host } = new URL(target);
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: hostname, port: Number(port) });
    const lines = [`GET ${path} HTTP/1.1`, `Host: ${host}`, "Upgrade: websocket", "Connection: Upgrade",
      "Sec-WebSocket-Version: 13", `Sec-WebSocket-Key: ${Buffer.from("0123456789abcdef").toString("base64")}`,
      ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
    socket.write(`${lines.join("\r\n")}\r\n\r\n`);
    let head = Buffer.alloc(0);
    const messages = [];
    let settle;
    const closed = new Promise((r) => { settle = r; });
    const frames = wsFrames((opcode, payload) => {
      if (opcode === 0x8) settle(payload.length >= 2 ? payload.readUInt16BE(0) : 1005);
      else messages.push(payload.toString());
    });
    const onData = (chunk) => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf("\r\n\r\n");
      if (end < 0) return;
      socket.off("data", onData);
      const status = Number(head.subarray(0, end).toString("latin1").split(" ")[1]);
      socket.on("data", frames);
      frames(head.subarray(end + 4));
      resolve({
        status,
        messages,
        closed,
        send: (text) => { if (!socket.destroyed) socket.write(wsFrame(0x1, text, true)); },
        end: () => socket.destroy(),
      });
    };
    socket.on("data", onData);
    socket.on("error", (e) => { settle(null); reject(e); });
    socket.on("close", () => settle(null));
  });
}

/** A fresh key ring entry `kid:base64url(32 bytes)`. */
export async function keygen(kid) {
  const { stdout } = await run(CLI, ["keygen", "--kid", kid]);
  rememberSecret(stdout.trim().split(":")[1]);
  return stdout.trim();
}

/**
 * Starts the built worker (or another Worker script, `main`) under
 * `wrangler dev` with these vars and secrets.
 * With `failingKv`, `REVOCATIONS` is not a KV namespace but a service binding
 * to tests/e2e/kv-double.mjs, run in the same process: reads reach a real
 * local namespace, writes fail unless `doubleMode("ok" | "fail-first")` says
 * otherwise.
 * With `https: { key, cert }` (PEM file paths) it serves HTTPS with that
 * certificate (`--local-protocol https`); this process then trusts any
 * certificate (NODE_TLS_REJECT_UNAUTHORIZED=0) for its own requests.
 * Returns { url, fetch, kvPut, kvGet, doubleMode, cli, logs, stop }.
 *
 * For two gates sharing one directory (tests/e2e/bound.test.mjs,
 * bench/bound.mjs): `workerName` names the Worker (unique per process, so
 * the local dev registry of other suites never answers for it);
 * `directoryFrom` binds `SESSIONS` to that Worker's class instead of owning
 * one (`script_name`); `persistTo` shares local KV and object storage;
 * `registry` is the dev registry folder both processes must share.
 */
export async function startGate({
  vars = {}, secrets = {}, name = "gate", main = path.join(ROOT, "build", "index.js"), failingKv = false,
  workerName = "session-gate-e2e", directoryFrom, persistTo, registry, https = null,
} = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `session-gate-${name}-`));
  const port = await freePort();
  const inspectorPort = await freePort();
  const NAMESPACE = "00000000000000000000000000000000";
  const revocations = failingKv
    ? [`[[services]]`, `binding = "REVOCATIONS"`, `service = "session-gate-kv-double"`, `entrypoint = "KvDouble"`]
    : [`[[kv_namespaces]]`, `binding = "REVOCATIONS"`, `id = "${NAMESPACE}"`];
  // The session directory's Durable Object, only for a gate that uses it
  // (another `main` may not export the class).
  const directory = vars.SESSION_DIRECTORY !== "on" ? []
    : directoryFrom
      ? [`[[durable_objects.bindings]]`, `name = "SESSIONS"`, `class_name = "SessionDirectory"`,
        `script_name = ${JSON.stringify(directoryFrom)}`, ``]
      : [`[[durable_objects.bindings]]`, `name = "SESSIONS"`, `class_name = "SessionDirectory"`, ``,
        `[[migrations]]`, `tag = "v1"`, `new_sqlite_classes = ["SessionDirectory"]`, ``];
  const toml = [
    `name = ${JSON.stringify(workerName)}`,
    `main = ${JSON.stringify(main)}`,
    `compatibility_date = "2025-09-01"`,
    ``,
    ...revocations,
    ``,
    ...directory,
    `[vars]`,
    ...Object.entries(vars).map(([k, v]) => `${k} = ${JSON.stringify(String(v))}`),
    ``,
  ].join("\n");
  const config = path.join(dir, "wrangler.toml");
  fs.writeFileSync(config, toml);
  // The double's own config, in a folder of its own so it does not get the
  // gate's .dev.vars; its `STORE` is the namespace the gate's reads reach,
  // and where `kvPut` writes.
  fs.mkdirSync(path.join(dir, "kv-double"));
  const doubleConfig = path.join(dir, "kv-double", "wrangler.toml");
  fs.writeFileSync(doubleConfig, [
    `name = "session-gate-kv-double"`,
    `main = ${JSON.stringify(path.join(ROOT, "tests", "e2e", "kv-double.mjs"))}`,
    `compatibility_date = "2025-09-01"`,
    ``,
    `[[kv_namespaces]]`,
    `binding = "STORE"`,
    `id = "${NAMESPACE}"`,
    ``,
  ].join("\n"));
  const configArgs = failingKv ? ["--config", config, "--config", doubleConfig] : ["--config", config];
  fs.writeFileSync(
    path.join(dir, ".dev.vars"),
    Object.entries(secrets).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join("\n") + "\n",
  );
  const state = persistTo ?? path.join(dir, "state");
  const env = { ...process.env, WRANGLER_SEND_METRICS: "false", NO_COLOR: "1" };
  // Every gate has a dev registry of its own unless it shares one on
  // purpose: wrangler dev otherwise registers every Worker in one folder per
  // machine, and gates of the same name (session-gate-e2e) running at once,
  // from two suites or two checkouts, could answer for each other's
  // Durable Object bindings.
  env.WRANGLER_REGISTRY_PATH = registry ?? path.join(dir, "registry");
  const child = spawn(
    WRANGLER,
    ["dev", ...configArgs, "--ip", "127.0.0.1", "--port", String(port), "--inspector-port", String(inspectorPort),
      "--persist-to", state, "--show-interactive-dev-session=false",
      ...(https ? ["--local-protocol", "https", "--https-key-path", https.key, "--https-cert-path", https.cert] : [])],
    { cwd: dir, env, stdio: ["ignore", "pipe", "pipe"] },
  );
  const logs = [];
  let output = "";
  const onData = (chunk) => {
    const text = chunk.toString();
    output += text;
    for (const line of text.split("\n")) {
      // With two workers in the process, wrangler prefixes each line with
      // the worker's name.
      const trimmed = line.trim().replace(/^\[[\w.-]+\] /, "");
      if (trimmed.startsWith("{") && trimmed.includes('"event"')) {
        logs.push(trimmed);
        allLogLines.push(trimmed);
        fs.appendFileSync(LOG_FILE, `${trimmed}\n`);
      }
    }
  };
  child.stdout.on("data", onData);
  child.stderr.on("data", onData);
  for (const [k, v] of Object.entries(secrets)) {
    rememberSecret(v);
    if (k === "SESSION_KEYS") for (const entry of String(v).split(",")) rememberSecret(entry.split(":")[1]);
  }
  if (https) process.env.NODE_TLS_REJECT_UNAUTHORIZED = "0";
  const url = `${https ? "https" : "http"}://127.0.0.1:${port}`;
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`wrangler dev exited early:\n${output}`);
    try {
      const res = await fetch(`${url}/.session-gate/health`);
      await res.arrayBuffer();
      if (res.status === 200 || res.status === 500) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`wrangler dev did not become ready:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  const wranglerArgs = ["--config", config, "--persist-to", state];
  // `wrangler kv key` against the namespace the gate reads.
  const kvArgs = failingKv
    ? ["--binding", "STORE", "--local", "--config", doubleConfig, "--persist-to", state]
    : ["--binding", "REVOCATIONS", "--local", ...wranglerArgs];
  const cliEnv = { ...process.env, ...vars, ...secrets, WRANGLER };
  return {
    url,
    logs,
    output: () => output,
    /** fetch relative to the gate, never following redirects. */
    fetch: (p, init = {}) => fetch(url + p, { redirect: "manual", ...init }),
    /** A request with exactly these headers (fetch adds and rewrites some). */
    raw: (p, opts = {}) => rawRequest(`${url}${p}`, opts),
    /** Waits until a log line matching `pred` has arrived (logs trail responses). */
    async waitForLog(pred, ms = 5000) {
      const end = Date.now() + ms;
      for (;;) {
        const line = logs.find(pred);
        if (line) return line;
        if (Date.now() > end) return undefined;
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    /** Writes a key into this gate's local KV namespace. */
    async kvPut(key, value) {
      await run(WRANGLER, ["kv", "key", "put", key, value, ...kvArgs], { cwd: dir, env });
    },
    /** Reads a key from this gate's local KV namespace (`null` when absent). */
    async kvGet(key) {
      try {
        const { stdout } = await run(WRANGLER, ["kv", "key", "get", key, "--text", ...kvArgs], { cwd: dir, env });
        return stdout.trim() === "Value not found" ? null : stdout.trim();
      } catch (e) {
        if (/not found/i.test(`${e.stdout}${e.stderr}`)) return null;
        throw e;
      }
    },
    /** With `failingKv`: how the double treats writes (`fail`, `fail-first`, `ok`). */
    async doubleMode(mode) {
      if (!failingKv) throw new Error("doubleMode needs startGate({ failingKv: true })");
      await this.kvPut("kv-double:writes", mode);
    },
    /** Runs the session-gate CLI with this gate's settings. */
    async cli(args, { passWrangler = false, env: extra = {} } = {}) {
      const argv = passWrangler ? [...args, "--", ...wranglerArgs] : args;
      return run(CLI, argv, { cwd: dir, env: { ...cliEnv, ...extra } });
    },
    async mint({ sub = "alice", iat, seen, roles } = {}) {
      const args = ["mint", "--sub", sub];
      if (iat !== undefined) args.push("--iat", String(iat));
      if (seen !== undefined) args.push("--seen", String(seen));
      if (roles !== undefined) args.push("--roles", roles);
      const { stdout } = await run(CLI, args, { cwd: dir, env: cliEnv });
      rememberCookie(stdout.trim());
      return stdout.trim();
    },
    async stop() {
      child.kill("SIGTERM");
      await new Promise((resolve) => {
        const timer = setTimeout(() => { child.kill("SIGKILL"); resolve(); }, 5000);
        child.on("exit", () => { clearTimeout(timer); resolve(); });
      });
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** An HTTP/1.1 request through node:http: headers go out exactly as given. */
export function rawRequest(target, { method = "GET", headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(target, { method, headers }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString("utf8") }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

/** Parses a Set-Cookie header list into { name: {value, attrs} }. */
export function setCookies(res) {
  const out = {};
  for (const line of res.headers.getSetCookie()) {
    const [pair, ...attrs] = line.split(";").map((s) => s.trim());
    const i = pair.indexOf("=");
    out[pair.slice(0, i)] = { value: pair.slice(i + 1), attrs, raw: line };
    rememberCookie(pair.slice(i + 1));
  }
  return out;
}

/**
 * An HTTP/1.1 request written byte for byte on a plain socket: the request
 * line and headers exactly as given (`head` without the final blank line),
 * for paths and headers that fetch and node:http would normalise or refuse.
 * Resolves to { status, headers (lowercase names, repeated ones joined by
 * ", "), rawHeaders, body, raw } once the server closes the connection.
 */
export function socketRequest(target, head, body = "") {
  const { hostname, port } = new URL(target);
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: hostname, port: Number(port) }, () => {
      const text = head.endsWith("\r\n") ? head : `${head}\r\n`;
      socket.end(Buffer.concat([Buffer.from(`${text}\r\n`, "latin1"), Buffer.from(body)]));
    });
    const chunks = [];
    socket.setTimeout(15_000, () => socket.destroy(new Error("socket request timed out")));
    socket.on("data", (c) => chunks.push(c));
    socket.on("error", reject);
    socket.on("close", () => {
      const raw = Buffer.concat(chunks).toString("latin1");
      const split = raw.indexOf("\r\n\r\n");
      const lines = (split < 0 ? raw : raw.slice(0, split)).split("\r\n");
      const status = Number((lines.shift() || "").split(" ")[1]) || 0;
      const headers = {};
      const rawHeaders = [];
      for (const line of lines) {
        const i = line.indexOf(":");
        if (i < 0) continue;
        const name = line.slice(0, i).trim().toLowerCase();
        const value = line.slice(i + 1).trim();
        rawHeaders.push(name, value);
        headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
      }
      resolve({ status, headers, rawHeaders, body: split < 0 ? "" : raw.slice(split + 4), raw });
    });
  });
}
