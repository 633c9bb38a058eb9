// The vector runner over Node's entry point and the file system.
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import * as api from "../dist/node.js";
import { runVector as runParsed, skipReason } from "./runner-core.mjs";

/** Runs one vector file: its mismatches, or `{skip}` with the reason the
 * package cannot run it. */
export function runVector(path) {
  const vector = JSON.parse(readFileSync(path, "utf8"));
  const skip = skipReason(vector);
  return skip === null ? runParsed(api, vector) : { skip };
}

/** Every vector file under `dir`, sorted. */
export function vectorFiles(dir) {
  return readdirSync(dir).sort().flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return vectorFiles(path);
    return name.endsWith(".json") ? [path] : [];
  });
}
