// A Worker whose SessionDirectory class never answers: the owner of the
// directory in tests/e2e/directory-deadline.test.mjs, so that a gate bound
// to it (script_name) meets an object that hangs. Its own fetch only
// answers the harness's readiness probe.
import { DurableObject } from "cloudflare:workers";

export class SessionDirectory extends DurableObject {
  fetch() {
    return new Promise(() => {});
  }
}

export default {
  fetch() {
    return new Response("a hung directory's owner", { status: 200 });
  },
};
