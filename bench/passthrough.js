// The baseline: a Worker that forwards every request to ORIGIN_URL with no
// checks at all. Whatever the gate costs is measured against this.
export default {
  fetch(request, env) {
    const url = new URL(request.url);
    return fetch(env.ORIGIN_URL + url.pathname + url.search, request);
  },
};
