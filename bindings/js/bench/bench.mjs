// The package's size and speed (issue #14): the .wasm gzipped, and the
// hydration of a fresh replica over JSON pages (10,000 records x 10 fields,
// 10 pages of 1,000 changes) in Node against the same pages natively
// (crates/fieldmerge-json/examples/hydration.rs, through the same JSON-text layer).
// Prints numbers; targets are in the issue, not asserted here.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { Replica } from "../dist/node.js";

const RECORDS = 10000, FIELDS = 10, PAGE = 1000, RUNS = 5;
const wasm = readFileSync(new URL("../pkg/fieldmerge_wasm_bg.wasm", import.meta.url));
const gz = gzipSync(wasm, { level: 9 }).length;
console.log(`wasm: ${(wasm.length / 1024).toFixed(0)} KB raw, ${(gz / 1024).toFixed(0)} KB gzipped (target <= 100 KB)`);

// The pages, written once: change r sets 10 fields of record r.
const dir = mkdtempSync(join(tmpdir(), "fieldmerge-pages-"));
const at = (ms) => new Date(Date.parse("2026-04-26T10:00:00.000Z") + ms).toISOString();
let bytes = 0;
for (let p = 0; p < RECORDS / PAGE; p++) {
  const changes = [];
  for (let r = p * PAGE; r < (p + 1) * PAGE; r++) {
    const data = {}, meta = {};
    for (let f = 0; f < FIELDS; f++) {
      data[`field${f}`] = f % 2 === 0 ? `value ${r}.${f}` : r * 10 + f + 0.5;
      meta[`field${f}`] = { at: at(r), origin: "user", by: `writer${r % 7}`, base: null };
    }
    changes.push({ table: "items", id: `r${r}`, op: "insert", data, field_meta: meta, client_id: `writer${r % 7}`, client_seq: Math.floor(r / 7) + 1, server_seq: r + 1 });
  }
  const text = JSON.stringify({ after: p * PAGE, changes, head: RECORDS });
  bytes += text.length;
  writeFileSync(join(dir, `page-${String(p).padStart(3, "0")}.json`), text);
}
const pages = Array.from({ length: RECORDS / PAGE }, (_, p) => readFileSync(join(dir, `page-${String(p).padStart(3, "0")}.json`), "utf8"));

const times = [];
for (let run = 0; run < RUNS; run++) {
  const replica = Replica.create("bench-device");
  const start = performance.now();
  for (const page of pages) replica.applyPage(page);
  times.push(performance.now() - start);
  replica.free();
}
times.sort((a, b) => a - b);
const node = times[Math.floor(RUNS / 2)];

const root = fileURLToPath(new URL("../../..", import.meta.url));
const out = execFileSync("cargo", ["run", "--quiet", "--release", "-p", "fieldmerge-json", "--example", "hydration", "--", dir, String(RUNS)], { cwd: root, encoding: "utf8" });
const native = Number(/median_ms ([\d.]+)/.exec(out)[1]);
rmSync(dir, { recursive: true, force: true });
const fields = RECORDS * FIELDS;
console.log(`hydration, ${RECORDS} records x ${FIELDS} fields, ${RECORDS / PAGE} pages, ${(bytes / 1e6).toFixed(1)} MB (median of ${RUNS}):`);
console.log(`  native ${native.toFixed(1)} ms (${(fields / native / 1000).toFixed(2)} M fields/s)`);
console.log(`  node   ${node.toFixed(1)} ms (${(fields / node / 1000).toFixed(2)} M fields/s)`);
console.log(`  node/native ${(node / native).toFixed(2)}x (target <= 2x)`);
