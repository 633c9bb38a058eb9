// Builds the package: the kernel for wasm32 (profile `wasm`), wasm-bindgen's
// glue (--target web, --weak-refs) into pkg/, the TypeScript into dist/,
// and the examples (type-checked, compiled into dist-examples/).
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";

const here = dirname(dirname(fileURLToPath(import.meta.url)));
const root = join(here, "..", "..");
const run = (cmd, args, cwd = here) => execFileSync(cmd, args, { cwd, stdio: "inherit" });

run("cargo", ["build", "--profile", "wasm", "--target", "wasm32-unknown-unknown", "-p", "fieldmerge-wasm"], root);
// No name section: function names are for debugging, and they were 32 KB of
// the 202 KB gzipped (BENCHMARKS.md).
run("wasm-bindgen", [
  "--target", "web", "--weak-refs", "--remove-name-section", "--out-dir", join(here, "pkg"),
  join(root, "target", "wasm32-unknown-unknown", "wasm", "fieldmerge_wasm.wasm"),
]);
run(join(here, "node_modules", ".bin", "tsc"), ["-p", "tsconfig.json"]);
run(join(here, "node_modules", ".bin", "tsc"), ["-p", "examples/tsconfig.json"]);
