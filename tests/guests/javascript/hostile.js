// A hostile renderer in JavaScript, for the isolation tests (tests/tests/javascript.rs). Built by
// tests/build.rs with componentize-qjs. The campaign's subject picks what it does:
//
// - "accumulate": the 2016 bug. A module-level list of every recipient seen, printed whole in
//   each message: in a reused instance message n carries the n addresses so far.
// - "probe": tries what a JavaScript program might reach for, as the recipient's `probe` column
//   says, and writes what it saw into the text. Some of these (the clocks) trap when the
//   component was built with its WASI imports stubbed: the test pins that too.
// - "work": loops `loops` times and holds `mib` MiB of strings (the recipient's columns): with
//   enough of either, a sandbox limit must stop the message, and only it.
// - "plant": the probe's control. It first gives itself what a capable runtime would have
//   (fetch, process.env, crypto.getRandomValues, console) and then probes, so the test sees what
//   the report looks like when there is something to find.

/// Every recipient this instance has rendered for: module state, never reset.
const seen = [];

/// Globals a JavaScript runtime may offer for reaching outside: network, environment, time,
/// randomness, output, other modules.
const REACH = [
  "fetch",
  "XMLHttpRequest",
  "WebSocket",
  "process",
  "require",
  "Deno",
  "Bun",
  "std",
  "os",
  "crypto",
  "performance",
  "console",
  "print",
  "setTimeout",
  "navigator",
  "location",
];

/// What happens when `f` runs: its value, or the exception it threw (a trap ends the message).
function attempt(f) {
  try {
    return `ok ${String(f())}`;
  } catch (err) {
    return `threw ${err && err.name ? err.name : typeof err}`;
  }
}

const PROBES = {
  globals: () => Object.getOwnPropertyNames(globalThis).sort().join(","),
  reach: () => REACH.map((name) => `${name}=${typeof globalThis[name]}`).join(" "),
  random: () => [Math.random(), Math.random(), Math.random()].join(" "),
  crypto: () =>
    attempt(() => {
      const bytes = new Uint8Array(8);
      crypto.getRandomValues(bytes);
      return Array.from(bytes).join(",");
    }),
  fetch: () => attempt(() => typeof fetch("http://127.0.0.1:9/")),
  env: () => attempt(() => JSON.stringify(process.env)),
  console: () => attempt(() => console.log("console sees this")),
  "date-now": () => `${Date.now()}`,
  "new-date": () => new Date().toISOString(),
  "performance-now": () => `${performance.now()}`,
};

/// Gives this instance what a capable runtime would have, so the probe has something to find.
function plant() {
  globalThis.fetch = () => "fetched";
  globalThis.process = { env: { HOME: "/home/planted" } };
  globalThis.crypto = {
    getRandomValues: (bytes) => bytes.fill(7),
  };
  globalThis.console = { log: () => "logged" };
}

export function render(templates, recipient) {
  seen.push(recipient.email);
  const fields = new Map(recipient.fields);
  let text;
  switch (templates.subject) {
    case "accumulate":
      text = `recipients so far:\n${seen.join("\n")}\n`;
      break;
    case "work": {
      const loops = Number(fields.get("loops") ?? 0);
      const strings = Number(fields.get("mib") ?? 0) * 32;
      let sum = 0;
      for (let i = 0; i < loops; i++) {
        sum = (sum + i) % 1000003;
      }
      // Distinct strings of 32 KiB each, all kept alive until the message is done.
      const held = [];
      for (let i = 0; i < strings; i++) {
        held.push(String(i).padStart(32 * 1024, "x"));
      }
      text = `sum=${sum} held=${held.length}\n`;
      break;
    }
    case "plant":
      plant();
    // falls through: probe with what was planted
    case "probe": {
      const probe = fields.get("probe");
      const run = PROBES[probe];
      // isomail's first render is a sample recipient with empty values: nothing to probe.
      text = run === undefined ? `no probe ${JSON.stringify(probe)}\n` : `${probe}: ${run()}\n`;
      break;
    }
    default:
      throw { tag: "other", val: `unknown mode ${templates.subject}` };
  }
  return { subject: templates.subject, text, html: null };
}
