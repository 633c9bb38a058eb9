// Every vector of spec/vectors through the package, in Node's test runner.
import { test } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { runVector, vectorFiles } from "./runner.mjs";

const dir = fileURLToPath(new URL("../../../spec/vectors", import.meta.url));
const files = vectorFiles(dir);

test("the vectors are there", () => assert.ok(files.length > 100, `${files.length} files`));

for (const path of files) {
  test(path.slice(dir.length + 1), (t) => {
    const fails = runVector(path);
    if (fails.skip !== undefined) return t.skip(fails.skip);
    assert.deepEqual(fails, []);
  });
}
