// The JSON forms of spec/SPEC.md R13.1, as TypeScript types.

/** A JSON value (SPEC R4.4: a number is a binary64, which a JS number is). */
export type Json = null | boolean | number | string | Json[] | { [member: string]: Json };

/** A timestamp in the wire spelling of R2.1: `2026-04-26T10:00:00.000Z`. */
export type Timestamp = string;

/** Who writes (R3.2). */
export type Actor = { kind: "user" } | { kind: "ai" } | { kind: "system"; source: string };

/** A record's key: a table and an id, or a singleton's kind and scope (R10.2). */
export type Key = { table: string; id: string } | { kind: string; scope: string };

/** A version `(at, by)` (R1.2). */
export interface Version {
  at: Timestamp;
  by: string;
}

/** A register in the record form (R12.5): `base` absent for a legacy writer. */
export interface Register {
  value: Json;
  at: Timestamp;
  origin: "user" | "agent" | "migration" | "system";
  by: string;
  base?: Version | null;
}

/** A record in its stored form (R12.5). */
export interface StoredRecord {
  table: string;
  id: string;
  fields: { [field: string]: Register };
  updated_at_index?: Timestamp | null;
}

/** A wire change (R11.1). */
export interface WireChange {
  table: string;
  id: string;
  op: "insert" | "update" | "delete";
  data: { [field: string]: Json };
  field_meta: { [field: string]: { at: Timestamp; origin: Register["origin"]; by?: string; base?: Version | null } };
  client_id: string;
  client_seq?: number;
  server_seq?: number;
  /** The extension slot (R11.8): carried, never read by the merge. */
  ext?: { [member: string]: Json };
}

/** A replica's persisted state (R12.5): store it after every operation. */
export interface ReplicaState {
  client_id: string;
  records: StoredRecord[];
  outbox: WireChange[];
  next_seq: number;
  cursor: number | null;
  hydrating: boolean;
  clock: { seen: Timestamp; stamped: Timestamp; offset_ms: number; epoch?: number };
}

/** What an apply reports (R6.8, R9.3, R4.3, R13.3). */
export interface ApplyReport {
  conflicts: {
    table: string;
    id: string;
    field: string;
    loser: Register;
    winner: Register;
    loser_is_local: boolean;
    rule: "unwitnessed" | "legacy";
  }[];
  anomalies: { table: string; id: string; field: string; kept: Register; dropped: Register }[];
  hidden_edits: { table: string; id: string; field: string; edit: Register; tombstone: Register }[];
  tally: { [counter: string]: number };
  /** The records to write back, in one transaction with the replica's state. */
  changed: { table: string; id: string }[];
  /**
   * A page's entries that are not changes (R12.6): skipped, never applied.
   * Keep them (they are not stored anywhere else); absent when there are none.
   */
  quarantined?: {
    server_seq: number;
    error: { code: string; message: string; index?: number; field?: string };
    /** The entry as read, or its exact text when its own text does not read. */
    entry: Json;
  }[];
}

/**
 * An entry of the log: a wire change, or a row another service wrote that
 * is not one (R12.6), which a replica quarantines.
 */
export type LogEntry = WireChange | Json;

/** A page of the log (R12.2): its entries, in order. */
export interface Page {
  after: number;
  changes: LogEntry[];
  head: number;
}

/** A push (R12.1). */
export interface Push {
  client_id: string;
  changes: WireChange[];
  cursor: number;
  clock_epoch: number;
}

/** The reply to a push (R13.1). */
export interface PushReply {
  acked_through: number | null;
  appended: number;
  page: Page;
  report: ApplyReport;
}

/** The server's limits (R12.2, R12.3). */
export interface ServerConfig {
  skew_ms_max: number;
  page_size_max: number;
  /** The log's name, which every page carries (R12.7). */
  log?: string;
}

/** A change's extension slot (R11.8): at most 4096 bytes of canonical JSON. */
export type Ext = { [member: string]: Json };
/** A local write's arguments (R5), with the change's extension slot (R11.8). */
export type WriteArgs = Key & { actor: Actor; patch: { [field: string]: Json }; now: Timestamp; ext?: Ext };
/** A delete's or restore's arguments (R9.1), with the change's extension slot (R11.8). */
export type DeleteArgs = Key & { actor: Actor; now: Timestamp; ext?: Ext };
/** A bootstrap placeholder's arguments (R10). */
export type BootstrapArgs = Key & { fields: { [field: string]: Json } };
/** A server-side write's arguments (R12.4). */
export type ServerWriteArgs = WriteArgs & { writer: string };
/** A clock correction's arguments (R12.4). */
export interface CorrectClockArgs {
  server_now: Timestamp;
  skew_ms_max: number;
  /** The refusal's `log_high`: the log's high stamp (R12.3). */
  log_high: Timestamp;
  clock_epoch: number;
  now: Timestamp;
}
