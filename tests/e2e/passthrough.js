// The reference for issue 10 item 2: the plainest pass-through Worker, which
// sends every request on to ORIGIN_URL as the runtime received it. The
// fidelity suite asks the gate to treat methods, bodies and header bytes
// the way this Worker does.
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    return fetch(new Request(env.ORIGIN_URL + url.pathname + url.search, request));
  },
};
