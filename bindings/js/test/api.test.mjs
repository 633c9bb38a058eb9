// The package's API: errors, hostile input, memory, a sync round.
import { afterEach, test } from "node:test";
import assert from "node:assert/strict";
import { FieldmergeError, Replica, Server, canonicalJson, compareValues, planPush, pushReads, version } from "../dist/node.js";

const now = (s) => `2026-04-26T10:00:${String(s).padStart(2, "0")}.000Z`;
const write = (id, patch, at) => ({ table: "tasks", id, actor: { kind: "user" }, patch, now: at });

// Node 20 has no `using`: each test frees what it made through `track`.
const made = [];
const track = (handle) => (made.push(handle), handle);
const freeAll = () => made.splice(0).forEach((h) => h.free());

afterEach(freeAll);

// Asserts that `f` throws a FieldmergeError with `code`, and returns it.
function refused(f, code) {
  try {
    f();
  } catch (e) {
    assert.ok(e instanceof FieldmergeError, `${e}`);
    assert.ok(e instanceof Error);
    assert.equal(e.code, code, e.message);
    assert.equal(e.body.code, code);
    return e;
  }
  assert.fail(`no error, expected ${code}`);
}

test("hostile input gets a typed error and changes nothing", () => {
  const r = track(Replica.create("phone"));
  const before = r.stateText();
  refused(() => r.write('{"table": "tasks"'), "json");
  refused(() => r.write("[1, 2]"), "wrong_type");
  refused(() => r.write({ table: 5, id: "t1" }), "wrong_type");
  refused(() => r.write(write("x".repeat(1 << 20), { n: 1 }, now(0))), "bad_name");
  refused(() => r.write(write("t1", { n: 1 }, "yesterday")), "bad_timestamp");
  refused(() => r.write(`{"table": "tasks", "id": "t1", "actor": {"kind": "user"}, "patch": {"n": 9007199254740993}, "now": "${now(0)}"}`), "bad_number");
  refused(() => r.write(`{"table": "tasks", "id": "t1", "actor": {"kind": "user"}, "patch": {"n": 1, "n": 2}, "now": "${now(0)}"}`), "duplicate_member");
  refused(() => r.write(write("t1", { n: 2n }, now(0))), "wrong_type");
  refused(() => r.write(write("t1", { n: "\ud800" }, now(0))), "json");
  refused(() => r.write('{"table": "\ud800"}'), "bad_utf16");
  const deep = "[".repeat(100000) + "]".repeat(100000);
  const e = refused(() => r.write(`{"table": "tasks", "id": "t1", "actor": {"kind": "user"}, "patch": {"n": ${deep}}, "now": "${now(0)}"}`), "too_deep");
  assert.equal(typeof e.message, "string");
  refused(() => Replica.create(""), "bad_name");
  refused(() => Replica.load('{"client_id": "a", "client_id": "b"}'), "state_json");
  refused(() => Server.create({ skew_ms_max: -1, page_size_max: 1 }), "wrong_type");
  assert.equal(r.stateText(), before);
});

test("a huge value round-trips and numbers keep their value", () => {
  const r = track(Replica.create("phone"));
  const big = "x".repeat(4 << 20);
  const change = r.write(write("t1", { big, n: 1.5, m: 1e21, z: -0 }, now(0)));
  assert.equal(change.data.big.length, big.length);
  assert.deepEqual([change.data.n, change.data.m, Object.is(change.data.z, 0)], [1.5, 1e21, true]);
  assert.equal(canonicalJson('{"b": 1.0, "a": -0}'), '{"a":0,"b":1}');
  assert.equal(compareValues(1, 1.0), 0);
  assert.equal(compareValues("B", "a"), -1);
  assert.match(version(), /^\d+\.\d+\.\d+$/);
});

test("freed handles are refused, never used", () => {
  const r = Replica.create("phone");
  r.free();
  refused(() => r.push(), "freed");
  r.free(); // a second free does nothing
  const s = Server.create({ skew_ms_max: 60000, page_size_max: 10 });
  s[Symbol.dispose]();
  refused(() => s.log(), "freed");
});

test("a sync round with a clock a day ahead is corrected", () => {
  const server = track(Server.create({ skew_ms_max: 60000, page_size_max: 100 }));
  const laptop = track(Replica.create("laptop"));
  const phone = track(Replica.create("phone"));
  laptop.write(write("t1", { title: "Milk" }, "2026-04-27T10:00:00.000Z"));
  const refusal = refused(() => server.push(laptop.push(), now(0)), "clock_ahead");
  assert.equal(refusal.body.server_now, now(0));
  laptop.receiveRefusal(refusal, "2026-04-27T10:00:01.000Z");
  const report = laptop.receiveReply(server.push(laptop.push(), now(2)));
  assert.deepEqual(report.conflicts, []);
  assert.equal(laptop.state().outbox.length, 0);
  phone.applyPage(server.pull({ cursor: 0 }));
  assert.deepEqual(phone.state().records.map((r) => r.fields.title.value), ["Milk"]);
  assert.equal(server.records()[0].fields.title.at, now(0));
});

test("the storage boundary plans a push", () => {
  const phone = track(Replica.create("phone"));
  phone.write(write("t1", { title: "a" }, now(0)));
  const push = phone.push();
  assert.deepEqual(pushReads(push).records, [{ table: "tasks", id: "t1" }]);
  const context = { log: { head: 0, high: "1970-01-01T00:00:00.000Z" }, absent: [{ table: "tasks", id: "t1" }] };
  const outcome = planPush({ skew_ms_max: 60000, page_size_max: 10 }, context, push, now(1));
  assert.equal(outcome.accepted.append.length, 1);
  refused(() => planPush({ skew_ms_max: 60000, page_size_max: 10 }, { log: context.log }, push, now(1)), "not_read");
});

test("many handles freed by their owners leave the module usable", () => {
  for (let i = 0; i < 2000; i++) {
    const r = Replica.create(`r${i}`);
    r.write(write("t1", { n: i }, now(0)));
    r.free();
  }
  const r = track(Replica.create("last"));
  assert.equal(r.state().client_id, "last");
});

test("a log row that is not a change is kept in its place and quarantined by a replica (R12.6)", () => {
  const change = {
    table: "tasks", id: "t1", op: "insert", data: { title: "a" },
    field_meta: { title: { at: now(0), origin: "user", base: null } }, client_id: "svc", server_seq: 1,
  };
  const row = { eventId: "e-2", table: "tasks", id: "t2", op: "update" };
  const server = track(Server.fromLog({ skew_ms_max: 60000, page_size_max: 10 }, [change, row], {}));
  assert.deepEqual(server.log()[1], row);
  const page = server.pull({ cursor: 0 });
  assert.equal(page.head, 2);
  const replica = track(Replica.create("phone"));
  const report = replica.applyPage(page);
  assert.equal(report.quarantined.length, 1);
  assert.equal(report.quarantined[0].server_seq, 2);
  assert.equal(report.quarantined[0].error.code, "unknown_member");
  assert.deepEqual(report.quarantined[0].entry, row);
  assert.equal(replica.state().cursor, 2);
});
