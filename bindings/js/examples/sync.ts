// Two devices and a server in one Node process: the README's example.
// Run: npm run build && node dist-examples/sync.js
import { FieldmergeError, Replica, Server } from "../dist/node.js";

const t = (s: number) => `2026-04-26T10:00:${String(s).padStart(2, "0")}.000Z`;

using server = Server.create({ skew_ms_max: 60000, page_size_max: 1000 });
using phone = Replica.create("phone");
using laptop = Replica.create("laptop");

// Both start from the same task.
phone.write({ table: "tasks", id: "t1", actor: { kind: "user" }, patch: { title: "Milk", done: false }, now: t(0) });
phone.receiveReply(server.push(phone.push(), t(1)));
laptop.applyPage(server.pull({ cursor: 0 }));

// Offline, each edits the title; the laptop's edit is later.
phone.write({ table: "tasks", id: "t1", actor: { kind: "user" }, patch: { title: "Oat milk" }, now: t(10) });
laptop.write({ table: "tasks", id: "t1", actor: { kind: "user" }, patch: { title: "Soy milk" }, now: t(20) });
laptop.receiveReply(server.push(laptop.push(), t(21)));

// The phone pushes: its cursor is behind, so the reply's page carries the
// laptop's edit, and the phone's pending edit loses to it: one conflict.
let report;
try {
  report = phone.receiveReply(server.push(phone.push(), t(22)));
} catch (e) {
  if (e instanceof FieldmergeError) console.error(e.code, e.body);
  throw e;
}
const title = phone.state().records.find((r) => r.id === "t1")?.fields.title?.value;
console.log(`conflicts: ${report.conflicts.length}, title: ${JSON.stringify(title)}`);
if (title !== "Oat milk" && title !== "Soy milk") process.exit(1);
