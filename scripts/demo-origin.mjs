// The demo origin for `make dev`: serves www/ on loopback and echoes the
// identity headers the gate sent at /whoami. Loopback only, no dependencies.
import http from "node:http";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "www");
const port = Number(process.env.DEMO_ORIGIN_PORT || 8788);
const types = { ".html": "text/html; charset=utf-8", ".css": "text/css", ".js": "text/javascript", ".svg": "image/svg+xml", ".json": "application/json", ".ico": "image/x-icon" };

const server = http.createServer((req, res) => {
  const url = new URL(req.url, "http://origin.invalid");
  if (url.pathname === "/whoami") {
    const identity = Object.fromEntries(Object.entries(req.headers).filter(([k]) => k.startsWith("x-session-")));
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ path: url.pathname, identity }, null, 2) + "\n");
    return;
  }
  let file = path.normalize(path.join(root, decodeURIComponent(url.pathname)));
  if (!file.startsWith(root)) { res.writeHead(404); res.end("not found\n"); return; }
  if (fs.existsSync(file) && fs.statSync(file).isDirectory()) file = path.join(file, "index.html");
  if (!fs.existsSync(file) && fs.existsSync(file + ".html")) file += ".html";
  fs.readFile(file, (err, body) => {
    if (err) { res.writeHead(404, { "content-type": "text/plain" }); res.end("not found\n"); return; }
    res.writeHead(200, { "content-type": types[path.extname(file)] || "application/octet-stream" });
    res.end(req.method === "HEAD" ? undefined : body);
  });
});
server.listen(port, "127.0.0.1", () => console.log(`demo origin on http://127.0.0.1:${port} serving ${root}`));
