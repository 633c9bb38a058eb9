// The typed API over the raw wasm-bindgen exports, shared by the browser and
// Node entry points. Every call goes through `guard`: a kernel error becomes
// a FieldmergeError, a trap (a panic inside the kernel) becomes the error
// `panic` and marks the module unusable.

import type {
  ApplyReport,
  BootstrapArgs,
  CorrectClockArgs,
  DeleteArgs,
  Json,
  Page,
  Push,
  PushReply,
  ReplicaState,
  ServerConfig,
  ServerWriteArgs,
  StoredRecord,
  LogEntry,
  WireChange,
  WriteArgs,
} from "./types.js";

export type * from "./types.js";

interface RawReplica {
  state(): string;
  write(args: string): string;
  delete(args: string): string;
  restore(args: string): string;
  bootstrap(args: string): string;
  apply(batch: string, hydration: boolean): string;
  apply_page(page: string): string;
  receive_reply(reply: string): string;
  receive_refusal(refusal: string, now: string): string;
  push(): string;
  ack(through: string): string;
  reset_cursor(): void;
  correct_clock(args: string): string;
  merge(state: string): string;
  free(): void;
}

interface RawServer {
  push(push: string, now: string): string;
  pull(pull: string): string;
  write(args: string): string;
  bootstrap(args: string): string;
  log(): string;
  clients(): string;
  records(): string;
  free(): void;
}

/** The raw exports of the wasm-bindgen module. */
export interface RawModule {
  Replica: { new (clientId: string): RawReplica; load(state: string): RawReplica };
  Server: { new (config: string): RawServer; from_log(config: string, log: string, clients: string): RawServer };
  read_json(text: string): string;
  compare_values(a: string, b: string): number;
  derive_updated_at(row: string): string;
  push_reads(push: string): string;
  plan_push(config: string, context: string, push: string, now: string): string;
  last_panic(): string | undefined;
  version(): string;
  __panic_for_tests(): void;
}

let raw: RawModule | undefined;
let poisoned: string | undefined;

/** Called once by an entry point when the module is instantiated. */
export function setModule(module: RawModule): void {
  raw = module;
}

/** The body of an error: `{code, message, index?, field?}`, and for a push
 * refusal every member a client corrects its clock with (R13.1). */
export interface ErrorBody {
  code: string;
  message: string;
  index?: number;
  field?: string;
  [member: string]: Json | undefined;
}

/** A refusal by the kernel or the binding; nothing changed. */
export class FieldmergeError extends Error {
  /** The stable code (spec/vectors/README.md), or the binding's own:
   * `bad_utf16`, `panic`, `poisoned`, `freed`. */
  readonly code: string;
  /** The position of the change the error names, if any. */
  readonly index?: number;
  /** The field the error names, if any. */
  readonly field?: string;
  /** The whole JSON form: pass a push refusal's to `receiveRefusal`. */
  readonly body: ErrorBody;

  constructor(body: ErrorBody) {
    super(body.message);
    this.name = "FieldmergeError";
    this.code = body.code;
    this.index = body.index;
    this.field = body.field;
    this.body = body;
  }
}

function module(): RawModule {
  if (poisoned !== undefined) {
    throw new FieldmergeError({ code: "poisoned", message: `the module is unusable after a panic: ${poisoned}` });
  }
  if (raw === undefined) {
    throw new FieldmergeError({ code: "not_initialized", message: "call init() first (browser entry point)" });
  }
  return raw;
}

function guard<T>(call: (m: RawModule) => T): T {
  const m = module();
  try {
    return call(m);
  } catch (e) {
    if (typeof e === "string") throw new FieldmergeError(JSON.parse(e) as ErrorBody);
    if (e instanceof WebAssembly.RuntimeError) {
      // A panic traps: the instance's state may be half changed, so every
      // later call says so instead of guessing.
      poisoned = m.last_panic() ?? e.message;
      throw new FieldmergeError({ code: "panic", message: `the kernel panicked: ${poisoned}` });
    }
    throw e;
  }
}

/** A string crossing into the kernel: JSON text, or a timestamp. A lone
 * surrogate cannot be UTF-8, and converting it would change the text. */
function wellFormed(text: string): string {
  if (!text.isWellFormed()) {
    throw new FieldmergeError({ code: "bad_utf16", message: "the text has a lone surrogate" });
  }
  return text;
}

/** An argument as JSON text: a string is taken as JSON text already, any
 * other value is written with JSON.stringify (lossless under R4.4). */
function text(value: unknown): string {
  if (typeof value === "string") return wellFormed(value);
  let written: string | undefined;
  try {
    written = JSON.stringify(value);
  } catch (e) {
    throw new FieldmergeError({ code: "wrong_type", message: `not JSON: ${(e as Error).message}` });
  }
  if (written === undefined) {
    throw new FieldmergeError({ code: "wrong_type", message: "not a JSON value" });
  }
  return written;
}

/** A JS value as JSON text (a string is a string value here). */
function valueText(value: Json): string {
  return text(JSON.stringify(value) ?? "null");
}

const parse = <T>(t: string): T => JSON.parse(t) as T;

type Arg<T> = T | string;

/** A replica (SPEC R2, R5, R6, R10, R12.4). Free it with `free()` (or
 * `using`); a FinalizationRegistry frees a forgotten one. */
export class Replica {
  #raw: RawReplica | undefined;

  private constructor(handle: RawReplica) {
    this.#raw = handle;
  }

  /** A fresh replica with the client id `clientId` (a name, R11.6). */
  static create(clientId: string): Replica {
    return new Replica(guard((m) => new m.Replica(wellFormed(clientId))));
  }

  /** A replica loaded from its persisted state (R12.5). */
  static load(state: Arg<ReplicaState>): Replica {
    return new Replica(guard((m) => m.Replica.load(text(state))));
  }

  #call<T>(f: (r: RawReplica) => T): T {
    const r = this.#raw;
    if (r === undefined) throw new FieldmergeError({ code: "freed", message: "the replica was freed" });
    return guard(() => f(r));
  }

  /** The persisted state (R12.5). */
  state(): ReplicaState {
    return parse(this.stateText());
  }

  /** The persisted state as canonical JSON text, to store as it is. */
  stateText(): string {
    return this.#call((r) => r.state());
  }

  /** A local write (R5): the wire change, or null when nothing changed. */
  write(args: Arg<WriteArgs>): WireChange | null {
    return parse(this.#call((r) => r.write(text(args))));
  }

  /** A soft delete (R9.1). */
  delete(args: Arg<DeleteArgs>): WireChange | null {
    return parse(this.#call((r) => r.delete(text(args))));
  }

  /** Undoes a delete (R9.1). */
  restore(args: Arg<DeleteArgs>): WireChange | null {
    return parse(this.#call((r) => r.restore(text(args))));
  }

  /** A bootstrap placeholder (R10). */
  bootstrap(args: Arg<BootstrapArgs>): WireChange | null {
    return parse(this.#call((r) => r.bootstrap(text(args))));
  }

  /** Op-based apply of a batch (R6, R11.5). */
  apply(batch: Arg<WireChange[]>, options: { hydration?: boolean } = {}): ApplyReport {
    return parse(this.#call((r) => r.apply(text(batch), options.hydration ?? false)));
  }

  /** Applies a pulled page (R12.2). */
  applyPage(page: Arg<Page>): ApplyReport {
    return parse(this.#call((r) => r.apply_page(text(page))));
  }

  /** Receives the reply to its push in one call (R13.4). */
  receiveReply(reply: Arg<PushReply>): ApplyReport {
    return parse(this.#call((r) => r.receive_reply(text(reply))));
  }

  /** Receives a push refusal (a FieldmergeError, or its body) in one call
   * at the device's wall time `now` (R13.4). */
  receiveRefusal(refusal: FieldmergeError | Arg<ErrorBody>, now: string): void {
    const body = refusal instanceof FieldmergeError ? refusal.body : refusal;
    this.#call((r) => r.receive_refusal(text(body), wellFormed(now)));
  }

  /** The push of the whole outbox (R12.1). */
  push(): Push {
    return parse(this.#call((r) => r.push()));
  }

  /** Acknowledges through a client_seq (R12.1). */
  ack(through: number | null): void {
    this.#call((r) => r.ack(text(through)));
  }

  /** Forgets the cursor: the next pull is a new hydration round. */
  resetCursor(): void {
    this.#call((r) => r.reset_cursor());
  }

  /** Corrects the clock (R12.4). */
  correctClock(args: Arg<CorrectClockArgs>): void {
    this.#call((r) => r.correct_clock(text(args)));
  }

  /** State-based merge of another replica's persisted state (R4.5). */
  merge(state: Arg<ReplicaState>): ApplyReport {
    return parse(this.#call((r) => r.merge(text(state))));
  }

  /** Frees the replica's memory now; later calls throw `freed`. */
  free(): void {
    this.#raw?.free();
    this.#raw = undefined;
  }

  [Symbol.dispose](): void {
    this.free();
  }
}

/** A server whose log the kernel holds in memory (R12): for Node servers
 * and tests. Free it with `free()`. */
export class Server {
  #raw: RawServer | undefined;

  private constructor(handle: RawServer) {
    this.#raw = handle;
  }

  /** A server with an empty log. */
  static create(config: Arg<ServerConfig>): Server {
    return new Server(guard((m) => new m.Server(text(config))));
  }

  /** A server rebuilt from its configuration, log and client table (R13.2). */
  static fromLog(config: Arg<ServerConfig>, log: Arg<LogEntry[]>, clients: Arg<{ [client: string]: { last_seq: number; clock_epoch: number } }>): Server {
    return new Server(guard((m) => m.Server.from_log(text(config), text(log), text(clients))));
  }

  #call<T>(f: (s: RawServer) => T): T {
    const s = this.#raw;
    if (s === undefined) throw new FieldmergeError({ code: "freed", message: "the server was freed" });
    return guard(() => f(s));
  }

  /** Handles a push at the server's time `now`: the reply, or throws the
   * refusal as a FieldmergeError (R12.1-R12.4). */
  push(push: Arg<Push>, now: string): PushReply {
    return parse(this.#call((s) => s.push(text(push), wellFormed(now))));
  }

  /** A page after a pull `{cursor, limit?}` (R12.2). */
  pull(pull: Arg<{ cursor: number; limit?: number }>): Page {
    return parse(this.#call((s) => s.pull(text(pull))));
  }

  /** A server-side write (R12.4). */
  write(args: Arg<ServerWriteArgs>): WireChange | null {
    return parse(this.#call((s) => s.write(text(args))));
  }

  /** A server-side bootstrap (R10.3). */
  bootstrap(args: Arg<BootstrapArgs>): WireChange | null {
    return parse(this.#call((s) => s.bootstrap(text(args))));
  }

  /** The whole log: its entries in order (R13.2, R12.6). */
  log(): LogEntry[] {
    return parse(this.#call((s) => s.log()));
  }

  /** The client table (R13.2). */
  clients(): { [client: string]: { last_seq: number; clock_epoch: number } } {
    return parse(this.#call((s) => s.clients()));
  }

  /** The materialized records. */
  records(): StoredRecord[] {
    return parse(this.#call((s) => s.records()));
  }

  /** Frees the server's memory now; later calls throw `freed`. */
  free(): void {
    this.#raw?.free();
    this.#raw = undefined;
  }

  [Symbol.dispose](): void {
    this.free();
  }
}

/** Reads one JSON value under the value model (R4.4, R11.7): its canonical
 * text (R11.4). */
export function canonicalJson(jsonText: string): string {
  return guard((m) => m.read_json(wellFormed(jsonText)));
}

/** The total order of two JS values (R4.4). */
export function compareValues(a: Json, b: Json): -1 | 0 | 1 {
  return guard((m) => m.compare_values(valueText(a), valueText(b))) as -1 | 0 | 1;
}

/** derive_updated_at of a stored row of the replaced system (R7.2), a JS
 * value. */
export function deriveUpdatedAt(row: Json): string | null {
  return parse(guard((m) => m.derive_updated_at(valueText(row))));
}

/** What a push reads from the server's storage (R13.3). */
export function pushReads(push: Arg<Push>): { client_id: string; client_seqs: number[]; records: { table: string; id: string }[] } {
  return parse(guard((m) => m.push_reads(text(push))));
}

/** Plans a push over the server's storage (R13.3). */
export function planPush(config: Arg<ServerConfig>, context: unknown, push: Arg<Push>, now: string): Json {
  return parse(guard((m) => m.plan_push(text(config), text(context), text(push), wellFormed(now))));
}

/** The kernel's version. */
export function version(): string {
  return guard((m) => m.version());
}

/** Panics inside the kernel: only for the package's test of its guard. */
export function __panicForTests(): void {
  guard((m) => m.__panic_for_tests());
}
