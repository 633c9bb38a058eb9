// The browser entry point: `await init()` before the first call (it fetches
// the .wasm next to this module, or takes a URL, a Response or bytes).
import wasmInit from "../pkg/fieldmerge_wasm.js";
import * as raw from "../pkg/fieldmerge_wasm.js";
import { setModule, type RawModule } from "./core.js";

let ready: Promise<void> | undefined;

/** Instantiates the module once; later calls return the same promise. */
export function init(wasm?: URL | string | Response | BufferSource): Promise<void> {
  ready ??= wasmInit(wasm === undefined ? undefined : { module_or_path: wasm }).then(() => {
    setModule(raw as unknown as RawModule);
  });
  return ready;
}

export * from "./core.js";
