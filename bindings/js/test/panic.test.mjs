// The panic guard, in a process of its own (a panic makes the module
// unusable, which would fail every later test).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";

const script = `
import { FieldmergeError, Replica, __panicForTests } from "./dist/node.js";
const r = Replica.create("phone");
let first, second;
try { __panicForTests(); } catch (e) { first = e; }
try { r.push(); } catch (e) { second = e; }
console.log(JSON.stringify({
  first: [first instanceof FieldmergeError, first?.code, first?.message.includes("on purpose")],
  second: [second instanceof FieldmergeError, second?.code],
}));
`;

test("a panic becomes the error panic, and the module says it is unusable", () => {
  const run = spawnSync(process.execPath, ["--input-type=module", "-e", script], {
    cwd: new URL("..", import.meta.url),
    encoding: "utf8",
  });
  assert.equal(run.status, 0, run.stderr);
  assert.deepEqual(JSON.parse(run.stdout), { first: [true, "panic", true], second: [true, "poisoned"] });
});
