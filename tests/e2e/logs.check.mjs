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

// A refusal's line names the session (fingerprint and sub, always together
// but on an operator's admin line)
// exactly when the cookie's tag verified: an expired or revoked session is
// authentic, a forged or unreadable cookie's sub is its sender's choice.
// (`bad_claims` is either: a verified payload that does not decode names
// nobody, a verified session cookie sent as the DBSC binding cookie is named.)
const UNVERIFIED = new Set(["missing", "duplicate", "malformed", "too_long", "unknown_kid", "bad_tag"]);
const AUTHENTIC = new Set(["idle", "absolute", "bound_expired", "revoked_user", "revoked_session", "issued_in_future", "seen_in_future", "seen_before_issued"]);

test("refusals name the session exactly when its cookie verified", () => {
  const lines = fs.readFileSync(LOG_FILE, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l));
  let named = 0;
  let nameless = 0;
  for (const record of lines) {
    const line = JSON.stringify(record);
    // An operator's admin call names the user it acts on (`admin_list`,
    // `admin_end_all`), not a session of theirs: only it may carry a sub alone.
    if (record.event !== "admin") {
      assert.equal(record.fingerprint === undefined, record.sub === undefined, `fingerprint and sub together in ${line}`);
    }
    if (record.fingerprint !== undefined) assert.match(record.fingerprint, /^[0-9a-f]{32}$/, line);
    if (!["deny", "login_redirect"].includes(record.event)) continue;
    if (UNVERIFIED.has(record.reason)) {
      assert.equal(record.sub, undefined, `an unverified cookie names nobody: ${line}`);
      nameless++;
    } else if (AUTHENTIC.has(record.reason)) {
      assert.ok(record.sub !== undefined, `an authentic refused session is named: ${line}`);
      named++;
    }
  }
  assert.ok(named >= 1 && nameless >= 1, `${named} named and ${nameless} nameless refusals`);
  console.log(`${named} refusals named their session, ${nameless} named nobody`);
});
