// Builds the package: the kernel for wasm32 (profile `wasm`), wasm-bindgen's
// glue (--target web, --weak-refs) into pkg/, the TypeScript into dist/,
// and the examples (type-checked, compiled into dist-examples/).
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";

const here = dirname(dirname(fileURLToPath(import.meta.url)));
const root = join(here, "..", "..");
const run = (cmd, args, cwd = here) => execFileSync(cmd, args, { cwd, stdio: "inherit" });

// Where rustup cannot download the wasm32 target, .ci/run installs Debian's
// rustc-web packages (a rustc, cargo and the standard library's sources)
// and sets FIELDMERGE_WASM_BUILD_STD=1: the standard library is then built
// for wasm32 from those sources (-Zbuild-std, allowed on a stable compiler by
// RUSTC_BOOTSTRAP), into the same target directory.
const buildStd = process.env.FIELDMERGE_WASM_BUILD_STD === "1";
const cargoArgs = ["build", "--profile", "wasm", "--target", "wasm32-unknown-unknown", "-p", "fieldmerge-wasm"];
if (buildStd) {
  execFileSync("/usr/bin/cargo", [...cargoArgs, "-Zbuild-std=std,panic_abort"], {
    cwd: root,
    stdio: "inherit",
    env: {
      ...process.env,
      RUSTC: "/usr/bin/rustc",
      RUSTC_BOOTSTRAP: "1",
      // Debian's lld; rustc looks for its own rust-lld only in its sysroot.
      CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER: "wasm-ld",
    },
  });
} else {
  run("cargo", cargoArgs, root);
}
// No name section: function names are for debugging, and they were 32 KB of
// the 202 KB gzipped (BENCHMARKS.md).
run("wasm-bindgen", [
  "--target", "web", "--weak-refs", "--remove-name-section", "--out-dir", join(here, "pkg"),
  join(root, "target", "wasm32-unknown-unknown", "wasm", "fieldmerge_wasm.wasm"),
]);
run(join(here, "node_modules", ".bin", "tsc"), ["-p", "tsconfig.json"]);
run(join(here, "node_modules", ".bin", "tsc"), ["-p", "examples/tsconfig.json"]);
