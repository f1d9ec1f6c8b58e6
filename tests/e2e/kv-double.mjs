// A stand-in for the `REVOCATIONS` KV namespace whose writes can be made to
// fail, for the end-to-end tests of what the gate does when a revocation
// cannot be recorded. It runs as a second worker in the gate's own
// `wrangler dev` process (`-c gate.toml -c kv-double.toml`); the gate's
// `REVOCATIONS` is a service binding to the `KvDouble` entrypoint, which the
// gate calls exactly like a KV binding (`get(key, options)`,
// `put(key, value, options)`) over JavaScript RPC.
//
// Reads always go to a real local KV namespace (`STORE`). Writes follow the
// mode held in that same namespace under `kv-double:writes`, which the tests
// set with `wrangler kv key put` (harness: `gate.doubleMode(mode)`):
//   `fail` (also when unset)  every write throws;
//   `fail-first`              the first attempt at each key throws, the
//                             next ones are written;
//   `ok`                      every write is written.
// `kv-double:attempts:<key>` counts the attempts at each key, so the tests
// can see how often the gate tried.
import { WorkerEntrypoint } from "cloudflare:workers";

const MODE_KEY = "kv-double:writes";

export class KvDouble extends WorkerEntrypoint {
  async get(key, options) {
    return this.env.STORE.get(key, options);
  }

  async put(key, value, options) {
    const mode = (await this.env.STORE.get(MODE_KEY)) ?? "fail";
    const counter = `kv-double:attempts:${key}`;
    const attempts = Number((await this.env.STORE.get(counter)) ?? "0") + 1;
    await this.env.STORE.put(counter, String(attempts));
    if (mode === "fail" || (mode === "fail-first" && attempts === 1)) {
      throw new Error("kv double: write refused");
    }
    await this.env.STORE.put(key, value, options);
  }
}

export default {
  async fetch() {
    return new Response("kv double\n", { status: 404 });
  },
};
