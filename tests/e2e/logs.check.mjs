// Runs after the whole end-to-end suite: every log line any gate printed must
// be one JSON object with the SPEC's fields, and none may hold a cookie value,
// a sid, a key, a secret or a query string.
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import { LOG_FILE, SECRETS_FILE } from "./harness.mjs";

test("no log line of the whole suite carries a cookie, a sid, a key or a query string", () => {
  const lines = fs.readFileSync(LOG_FILE, "utf8").split("\n").filter(Boolean);
  const secrets = [...new Set(fs.readFileSync(SECRETS_FILE, "utf8").split("\n").filter((s) => s.length >= 8))];
  assert.ok(lines.length >= 50, `collected ${lines.length} log lines`);
  assert.ok(secrets.length >= 50, `collected ${secrets.length} secrets`);
  const allowed = new Set(["event", "reason", "fingerprint", "sub", "method", "path", "action", "status", "colo", "country", "from", "to"]);
  for (const line of lines) {
    const record = JSON.parse(line);
    for (const key of Object.keys(record)) assert.ok(allowed.has(key), `unexpected field ${key} in ${line}`);
    assert.ok(!line.includes("?"), `a query string in ${line}`);
    assert.ok(!line.toLowerCase().includes("cookie"), `a cookie in ${line}`);
    for (const secret of secrets) assert.ok(!line.includes(secret), `a secret in ${line}`);
  }
  console.log(`checked ${lines.length} log lines against ${secrets.length} secrets`);
});
