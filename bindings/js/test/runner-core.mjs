// A conformance-vector runner written in JavaScript from
// spec/vectors/README.md alone, over the package's exports (Node's or the
// browser's entry point). Vector files are read with plain JSON.parse:
// lossless under the value model (SPEC R4.4). Expected and actual values
// are compared by value.

const STEP_MEMBERS = {
  write: ["replica", "table", "id", "kind", "scope", "actor", "patch", "now", "ext"],
  delete: ["replica", "table", "id", "kind", "scope", "actor", "now", "ext"],
  restore: ["replica", "table", "id", "kind", "scope", "actor", "now", "ext"],
  bootstrap: ["replica", "table", "id", "kind", "scope", "fields"],
  apply: ["replica", "changes", "delivery"],
  page: ["replica", "after", "changes", "head", "log"],
  ack: ["replica", "through"],
  merge: ["replica", "from", "state"],
  push: ["replica", "now"],
  receive_reply: ["replica", "acked_through", "after", "changes", "head"],
  push_raw: ["client_id", "changes", "cursor", "clock_epoch", "now"],
  pull: ["replica", "limit"],
  server_write: ["writer", "actor", "table", "id", "kind", "scope", "patch", "now", "ext"],
  server_bootstrap: ["table", "id", "kind", "scope", "fields"],
  reset_cursor: ["replica"],
  restart_server: [],
  correct_clock: ["replica", "server_now", "clock_epoch", "log_high", "now"],
  load: ["replica", "state"],
  derive_row: ["row"],
  compare_values: ["a", "b"],
  read_json: ["text"],
  check: ["replica"],
};
const REPLICA_VIEWS = ["records", "derive_updated_at", "deleted", "outbox", "next_seq", "cursor", "hydrating", "clock"];
const SERVER_VIEWS = ["server_records", "server_log", "server_head"];
const OUTPUTS = ["change", "changed", "message", "reply", "conflicts", "anomalies", "hidden_edits", "quarantined", "tally",
  "acked_through", "appended", "derived", "order", "canonical"];
const TALLY = ["inserted", "duplicate", "stale", "twin", "overwrite_not_user", "overwrite_same_value",
  "overwrite_witnessed", "overwrite_legacy_hydration", "conflict_unwitnessed", "conflict_legacy"];

export class InvalidVector extends Error {}

// {"$nested_array": N} stands for N nested arrays (README, "Deep values").
function expand(v) {
  if (Array.isArray(v)) return v.map(expand);
  if (v !== null && typeof v === "object") {
    const keys = Object.keys(v);
    if (keys.length === 1 && keys[0] === "$nested_array") {
      let inner = [];
      for (let i = 1; i < v.$nested_array; i++) inner = [inner];
      return inner;
    }
    return Object.fromEntries(keys.map((k) => [k, expand(v[k])]));
  }
  return v;
}

// A step's batch: raw text when a string, else the (expanded) array's text.
const batchText = (changes) => (typeof changes === "string" ? changes : JSON.stringify(expand(changes)));

const pick = (step, names) => Object.fromEntries(names.filter((n) => n in step).map((n) => [n, step[n]]));

// Value equality of SPEC R4.4: numbers as binary64, objects as member sets.
function same(a, b) {
  if (typeof a === "number" && typeof b === "number") return a === b; // -0 === 0
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => same(x, b[i]));
  }
  if (a !== null && b !== null && typeof a === "object" && typeof b === "object") {
    const ka = Object.keys(a), kb = Object.keys(b);
    return ka.length === kb.length && ka.every((k) => Object.hasOwn(b, k) && same(a[k], b[k]));
  }
  return a === b;
}

const tally = (t) => Object.fromEntries(TALLY.map((n) => [n, (t ?? {})[n] ?? 0]));

class Engine {
  constructor(api, setup) {
    const { Replica, Server, canonicalJson, compareValues, deriveUpdatedAt } = api;
    Object.assign(this, { Replica, Server, canonicalJson, compareValues, deriveUpdatedAt });
    this.config = { skew_ms_max: setup.skew_ms_max ?? 60000, page_size_max: setup.page_size_max ?? 1000 };
    // R12.7: a named log names every page.
    if (setup.log !== undefined) this.config.log = setup.log;
    this.server = this.Server.create(this.config);
    this.replicas = new Map();
  }

  close() {
    this.server.free();
    for (const r of this.replicas.values()) r.free();
  }

  replica(step) {
    let name = step.replica;
    if (name === undefined && this.replicas.size === 1) [name] = this.replicas.keys();
    const r = this.replicas.get(name);
    if (r === undefined) throw new InvalidVector(`no replica ${name}`);
    return r;
  }

  // One step: its outputs, or throws the kernel's FieldmergeError.
  run(op, step) {
    const out = {};
    const report = (r) => Object.assign(out, r);
    switch (op) {
      case "write": case "delete": case "restore": case "bootstrap": {
        const args = pick(step, ["table", "id", "kind", "scope", "actor", "now", "ext"]);
        if ("patch" in step) args.patch = expand(step.patch);
        if ("fields" in step) args.fields = expand(step.fields);
        out.change = this.replica(step)[op](args);
        break;
      }
      case "apply":
        report(this.replica(step).apply(batchText(step.changes), { hydration: step.delivery === "hydration" }));
        break;
      case "page":
      case "receive_reply": {
        const log = step.log === undefined ? "" : `,"log":${JSON.stringify(step.log)}`;
        const page = `{"after":${JSON.stringify(step.after)},"changes":${batchText(step.changes)},"head":${JSON.stringify(step.head)}${log}}`;
        if (op === "page") {
          report(this.replica(step).applyPage(page));
        } else {
          const empty = JSON.stringify({ conflicts: [], anomalies: [], hidden_edits: [], changed: [], tally: tally({}) });
          report(this.replica(step).receiveReply(`{"acked_through":${JSON.stringify(step.acked_through)},"appended":0,"page":${page},"report":${empty}}`));
        }
        break;
      }
      case "ack":
        this.replica(step).ack(step.through);
        break;
      case "merge": {
        let state = step.state;
        if ("from" in step) {
          const other = this.replicas.get(step.from);
          if (other === undefined) throw new InvalidVector(`no replica ${step.from}`);
          state = other.stateText();
        }
        report(this.replica(step).merge(state));
        break;
      }
      case "push": {
        const r = this.replica(step);
        const push = r.push();
        const reply = this.server.push(push, step.now);
        report(r.receiveReply(reply));
        Object.assign(out, { acked_through: reply.acked_through, appended: reply.appended, message: push, reply });
        break;
      }
      case "push_raw": {
        const members = [`"client_id":${JSON.stringify(step.client_id)}`, `"changes":${batchText(step.changes)}`];
        for (const n of ["cursor", "clock_epoch"]) if (n in step) members.push(`"${n}":${JSON.stringify(step[n])}`);
        const reply = this.server.push(`{${members.join(",")}}`, step.now);
        report(reply.report);
        Object.assign(out, { acked_through: reply.acked_through, appended: reply.appended });
        break;
      }
      case "pull": {
        const r = this.replica(step);
        const page = this.server.pull({ cursor: r.state().cursor ?? 0, limit: step.limit ?? this.config.page_size_max });
        report(r.applyPage(page));
        break;
      }
      case "server_write": case "server_bootstrap": {
        const args = pick(step, ["writer", "actor", "table", "id", "kind", "scope", "now", "ext"]);
        if ("patch" in step) args.patch = expand(step.patch);
        if ("fields" in step) args.fields = expand(step.fields);
        out.change = op === "server_write" ? this.server.write(args) : this.server.bootstrap(args);
        break;
      }
      case "reset_cursor":
        this.replica(step).resetCursor();
        break;
      case "restart_server": {
        const restarted = this.Server.fromLog(this.config, this.server.log(), this.server.clients());
        this.server.free();
        this.server = restarted;
        break;
      }
      case "correct_clock": {
        const r = this.replica(step);
        const epoch = step.clock_epoch ?? (r.state().clock.epoch ?? 0) + 1;
        const logHigh = step.log_high ?? highStamp(this.server.log());
        r.correctClock({ server_now: step.server_now, skew_ms_max: this.config.skew_ms_max, log_high: logHigh, clock_epoch: epoch, now: step.now });
        break;
      }
      case "load": {
        const loaded = this.Replica.load(expand(step.state));
        this.replicas.get(step.replica)?.free();
        this.replicas.set(step.replica, loaded);
        break;
      }
      case "derive_row":
        out.derived = this.deriveUpdatedAt(step.row);
        break;
      case "compare_values":
        out.order = this.compareValues(step.a, step.b);
        break;
      case "read_json":
        out.canonical = this.canonicalJson(step.text);
        break;
      case "check":
        break;
      default:
        throw new InvalidVector(`unknown op ${op}`);
    }
    return out;
  }

  view(replica, what) {
    switch (what) {
      case "server_records": return this.server.records();
      case "server_log": return this.server.log();
      case "server_head": {
        const log = this.server.log();
        return log.length === 0 ? 0 : log[log.length - 1].server_seq;
      }
    }
    if (replica === undefined) throw new InvalidVector(`expect.${what} needs a replica`);
    const state = replica.state();
    switch (what) {
      case "derive_updated_at":
        return state.records.map((r) => {
          const ats = Object.values(r.fields).map((f) => f.at).sort();
          return { table: r.table, id: r.id, at: ats.length === 0 ? null : ats[ats.length - 1] };
        });
      case "deleted":
        return state.records.map((r) => ({ table: r.table, id: r.id, deleted: r.fields.deletedAt !== undefined && r.fields.deletedAt.value !== null }));
      case "clock": {
        const { epoch, ...clock } = state.clock;
        return epoch ? { ...clock, epoch } : clock;
      }
      default:
        return state[what] ?? null;
    }
  }
}

function errorMatches(want, got) {
  if (typeof want === "string") return want === got.code;
  for (const k of Object.keys(want)) {
    if (!["code", "index", "field"].includes(k)) throw new InvalidVector(`unknown member expect.error.${k}`);
  }
  return want.code === got.code
    && (!("index" in want) || want.index === got.index)
    && (!("field" in want) || want.field === got.field);
}

/** Why this package skips a vector, or null: a vector with an `import`
 * step needs the importer of SPEC R14, a tool of the Rust CLI that the
 * package does not have (README, `import`: skipped, never passed). */
export function skipReason(vector) {
  const imports = (vector.steps ?? []).some((s) => s.op === "import");
  return imports ? "the importer (R14) is not part of the package" : null;
}

/** Runs one parsed vector with the package's exports `api`: its
 * mismatches (throws InvalidVector for a vector that does not follow the
 * format). */
export function runVector(api, vector) {
  for (const k of Object.keys(vector)) {
    if (!["description", "rules", "server", "replicas", "steps"].includes(k)) throw new InvalidVector(`unknown member ${k}`);
  }
  for (const k of Object.keys(vector.server ?? {})) {
    if (!["skew_ms_max", "page_size_max", "log"].includes(k)) throw new InvalidVector(`unknown member server.${k}`);
  }
  const engine = new Engine(api, vector.server ?? {});
  const fails = [];
  try {
    for (const [name, state] of Object.entries(vector.replicas ?? {})) engine.replicas.set(name, api.Replica.load(state));
    vector.steps.forEach((step, i) => {
      const { op, expect = {} } = step;
      const allowed = STEP_MEMBERS[op];
      if (allowed === undefined) throw new InvalidVector(`step ${i}: unknown op ${op}`);
      for (const k of Object.keys(step)) {
        if (k !== "op" && k !== "expect" && !allowed.includes(k)) throw new InvalidVector(`step ${i}: unknown member ${k}`);
      }
      let out = {}, error;
      try {
        out = engine.run(op, step);
      } catch (e) {
        if (!(e instanceof api.FieldmergeError)) throw e;
        error = e;
      }
      const fail = (what, want, got) => fails.push(`step ${i} (${op}): ${what}\n    expected: ${JSON.stringify(want)}\n    actual:   ${JSON.stringify(got)}`);
      const wantsError = expect.error !== undefined && expect.error !== null;
      if (!wantsError && error !== undefined) {
        fail("error", null, error.body);
        return;
      }
      if (wantsError && error === undefined) fail("error", expect.error, null);
      if (wantsError && error !== undefined && !errorMatches(expect.error, error)) fail("error", expect.error, error.body);
      let target;
      try { target = engine.replica(step); } catch { target = undefined; }
      if ("replica" in expect) target = engine.replicas.get(expect.replica);
      for (const what of Object.keys(expect).sort()) {
        if (what === "error" || what === "replica") continue;
        let want = expect[what], got;
        if (REPLICA_VIEWS.includes(what) || SERVER_VIEWS.includes(what)) got = engine.view(target, what);
        else if (OUTPUTS.includes(what)) got = out[what] ?? (["conflicts", "anomalies", "hidden_edits", "quarantined"].includes(what) ? [] : null);
        else throw new InvalidVector(`step ${i}: unknown expectation ${what}`);
        if (what === "tally") [want, got] = [tally(want), tally(got)];
        // Error messages are never compared (README, `expect`).
        if (what === "quarantined") got = got.map(({ error: { message, ...error }, ...q }) => ({ ...q, error }));
        if (!same(want, got)) fail(what, want, got);
      }
    });
  } finally {
    engine.close();
  }
  return fails;
}

// R12.3: the log's high stamp, the greatest `at` of its changes (the
// genesis for an empty log). Stamps are 24-byte UTC spellings (R2.1), so
// their text order is their time order.
function highStamp(log) {
  let high = "1970-01-01T00:00:00.000Z";
  for (const change of log) {
    for (const meta of Object.values(change?.field_meta ?? {})) {
      if (typeof meta?.at === "string" && meta.at > high) high = meta.at;
    }
  }
  return high;
}
