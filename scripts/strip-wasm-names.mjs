// Removes the "name" custom section (function names for stack traces) from a
// Wasm module, in place. worker-build keeps it (it runs wasm-opt with
// --debuginfo); it is a sixth of session-gate's module and about 19 KB of its
// gzipped upload, and nothing at run time reads it. A panic's message and
// source location survive; only the Rust function names in a Wasm stack
// trace become indices. scripts/build.sh runs this unless
// SESSION_GATE_WASM_NAMES=keep.
import fs from "node:fs";

const file = process.argv[2];
const wasm = fs.readFileSync(file);
if (wasm.readUInt32LE(0) !== 0x6d736100) throw new Error(`${file} is not a Wasm module`);
const readLeb = (at) => {
  let value = 0;
  let shift = 0;
  let byte;
  do {
    byte = wasm[at++];
    value += (byte & 0x7f) * 2 ** shift;
    shift += 7;
  } while (byte & 0x80);
  return [value, at];
};
const kept = [wasm.subarray(0, 8)];
let at = 8;
let removed = 0;
while (at < wasm.length) {
  const start = at;
  const id = wasm[at];
  const [size, body] = readLeb(at + 1);
  const end = body + size;
  let name = null;
  if (id === 0) {
    const [length, text] = readLeb(body);
    name = wasm.subarray(text, text + length).toString("utf8");
  }
  if (name === "name") removed += end - start;
  else kept.push(wasm.subarray(start, end));
  at = end;
}
if (at !== wasm.length) throw new Error(`${file}: malformed section table`);
fs.writeFileSync(file, Buffer.concat(kept));
console.error(`[build] ${file}: removed ${removed} bytes of function names`);
