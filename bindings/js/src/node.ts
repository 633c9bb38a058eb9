// The Node entry point: the module is instantiated when this file loads.
import { readFileSync } from "node:fs";
import { initSync } from "../pkg/fieldmerge_wasm.js";
import * as raw from "../pkg/fieldmerge_wasm.js";
import { setModule, type RawModule } from "./core.js";

initSync({ module: readFileSync(new URL("../pkg/fieldmerge_wasm_bg.wasm", import.meta.url)) });
setModule(raw as unknown as RawModule);

export * from "./core.js";
