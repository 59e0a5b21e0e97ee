/*
 * Recado's event stream (/ws/events/) in JavaScript: the same file runs in a browser and in Node 22+
 * (both have a global WebSocket; no npm package needed).
 *
 * Browsers cannot set an Authorization header on a WebSocket, so the key travels as a subprotocol:
 * the client offers ["recado.events", "apikey.<key>"] and Recado answers "recado.events". Never put
 * the key in the URL (URLs end up in access logs). In a browser, whoever can read the page can read
 * the key: use a key with only the `read` scope, on pages only your own team opens.
 *
 * Node:     RECADO_API_KEY=rk_... node events_client.js https://recado.example.com --types message.received
 *           (prints each event as a JSON line; --instance <id>, --max-events <n>; exit status 2 when refused)
 * Browser:  <script src="events_client.js"></script>
 *           <script>
 *             streamEvents({baseUrl: "https://recado.example.com", key: "rk_...", types: "message.received",
 *                           onEvent: (event) => console.log(event.type, event.id, event.data)});
 *           </script>
 *
 * The stream is at-most-once: after a reconnect, re-read from the API what you show (or use webhooks).
 */
"use strict";

// Close codes after which retrying cannot help: fix the key or the filter instead.
const RECADO_REFUSALS = {
  4400: "unknown event type in types",
  4401: "unknown or revoked API key",
  4403: "the key lacks the read scope, or the company is suspended",
  4404: "unknown instance",
};

/** https://host → wss://host/ws/events/?types=…&instance=… */
function streamUrl(baseUrl, { types = "", instance = "" } = {}) {
  const url = new URL(baseUrl);
  url.protocol = { "https:": "wss:", "http:": "ws:" }[url.protocol] || url.protocol;
  url.pathname = url.pathname.replace(/\/+$/, "") + "/ws/events/";
  url.search = "";
  url.hash = "";
  if (types) url.searchParams.set("types", types);
  if (instance) url.searchParams.set("instance", instance);
  return url.href;
}

/**
 * Connect and call onEvent(event) for each event, reconnecting with exponential backoff (and jitter)
 * after a drop. A refusal (close code 4400-4404) calls onRefused(code, reason) and stops.
 * Returns {stop()}.
 */
function streamEvents({
  baseUrl, key, types = "", instance = "", onEvent,
  onStatus = () => {}, onRefused = () => {}, minBackoffMs = 1000, maxBackoffMs = 60000,
}) {
  const url = streamUrl(baseUrl, { types, instance });
  let socket = null;
  let timer = null;
  let stopped = false;
  let backoff = minBackoffMs;

  function connect() {
    socket = new WebSocket(url, ["recado.events", `apikey.${key}`]);
    socket.onopen = () => {
      backoff = minBackoffMs; // a connection that opened resets the backoff
      onStatus(`connected to ${url}`);
    };
    socket.onmessage = (frame) => onEvent(JSON.parse(frame.data));
    socket.onclose = (close) => {
      if (stopped) return;
      if (close.code in RECADO_REFUSALS) {
        stopped = true;
        onRefused(close.code, RECADO_REFUSALS[close.code]);
        return;
      }
      const delay = backoff * (0.5 + Math.random() / 2);
      onStatus(`connection closed (${close.code}); reconnecting in ${(delay / 1000).toFixed(1)} s`);
      timer = setTimeout(connect, delay);
      backoff = Math.min(backoff * 2, maxBackoffMs);
    };
  }

  connect();
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
      socket.close(1000);
    },
  };
}

function runFromCommandLine(argv) {
  const options = { types: "", instance: "", maxEvents: 0 };
  const positional = [];
  for (let i = 0; i < argv.length; i += 1) {
    const name = { "--types": "types", "--instance": "instance", "--max-events": "maxEvents" }[argv[i]];
    if (name) options[name] = argv[++i] || "";
    else positional.push(argv[i]);
  }
  const key = process.env.RECADO_API_KEY || "";
  if (positional.length !== 1 || !key) {
    console.error("usage: RECADO_API_KEY=rk_... node events_client.js <base url> "
      + "[--types a,b] [--instance <id>] [--max-events <n>]");
    process.exitCode = 1;
    return;
  }
  if (typeof WebSocket === "undefined") {
    console.error("This Node has no global WebSocket: use Node 22 or later.");
    process.exitCode = 1;
    return;
  }
  let received = 0;
  const stream = streamEvents({
    baseUrl: positional[0], key, types: options.types, instance: options.instance,
    onEvent(event) {
      console.log(JSON.stringify(event));
      received += 1;
      if (Number(options.maxEvents) && received >= Number(options.maxEvents)) stream.stop();
    },
    onStatus: (text) => console.error(text),
    onRefused(code, reason) {
      console.error(`refused (${code}): ${reason}`);
      process.exitCode = 2;
    },
  });
}

if (typeof module !== "undefined" && typeof require !== "undefined") {
  module.exports = { streamEvents, streamUrl, RECADO_REFUSALS };
  if (require.main === module) runFromCommandLine(process.argv.slice(2));
}
