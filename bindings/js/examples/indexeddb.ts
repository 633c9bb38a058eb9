// An IndexedDB integration (issue #14): the kernel owns the write path; each
// record is stored with its registers in the `records` store, the replica's
// other parts (client id, outbox, clock, cursor) in the `meta` store; every
// operation is one readwrite transaction that writes back only the records
// the report lists as changed, with the meta row.
import type { ApplyReport, Json, PushReply, ReplicaState, StoredRecord, WireChange } from "../dist/web.js";
import { FieldmergeError, Replica } from "../dist/web.js";

const RECORDS = "records";
const META = "meta";

function request<T>(r: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
}

function done(tx: IDBTransaction): Promise<void> {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error);
  });
}

/** Opens (or creates) a device database. */
export async function openDevice(name: string): Promise<IDBDatabase> {
  const open = indexedDB.open(name, 1);
  open.onupgradeneeded = () => {
    open.result.createObjectStore(RECORDS, { keyPath: ["table", "id"] });
    open.result.createObjectStore(META);
  };
  return request(open);
}

/** A device: a replica whose state lives in IndexedDB. */
export class Device {
  private constructor(private db: IDBDatabase, private replica: Replica) {}

  /** Loads the device from its database, or starts it with `clientId`. */
  static async open(db: IDBDatabase, clientId: string): Promise<Device> {
    const tx = db.transaction([RECORDS, META], "readonly");
    const meta = (await request(tx.objectStore(META).get("replica"))) as Omit<ReplicaState, "records"> | undefined;
    const records = (await request(tx.objectStore(RECORDS).getAll())) as StoredRecord[];
    const replica = meta === undefined ? Replica.create(clientId) : Replica.load({ ...meta, records });
    return new Device(db, replica);
  }

  /** Stores what an operation changed, in one transaction: the records the
   * report lists, and the replica's other parts. */
  private async store(changed: { table: string; id: string }[] | "all"): Promise<void> {
    const state = this.replica.state();
    const tx = this.db.transaction([RECORDS, META], "readwrite");
    const records = tx.objectStore(RECORDS);
    const wanted = changed === "all" ? undefined : new Set(changed.map((k) => JSON.stringify([k.table, k.id])));
    for (const record of state.records) {
      if (wanted === undefined || wanted.has(JSON.stringify([record.table, record.id]))) records.put(record);
    }
    const { records: _all, ...meta } = state;
    tx.objectStore(META).put(meta, "replica");
    await done(tx);
  }

  /** A local user write of `patch` to a task at the device's time `now`. */
  async write(id: string, patch: { [field: string]: Json }, now: string): Promise<WireChange | null> {
    const change = this.replica.write({ table: "tasks", id, actor: { kind: "user" }, patch, now });
    if (change !== null) await this.store([{ table: change.table, id: change.id }]);
    return change;
  }

  /** One sync round against `endpoint` (POST /push): push, then receive the
   * reply or the refusal, each in one call and one transaction. */
  async sync(endpoint: string, now: () => string): Promise<ApplyReport | null> {
    const response = await fetch(`${endpoint}/push`, { method: "POST", body: JSON.stringify(this.replica.push()) });
    const body = await response.json();
    if (response.status === 409) {
      // A refusal: acknowledge and correct the clock; push again next round.
      this.replica.receiveRefusal(body, now());
      await this.store("all");
      return null;
    }
    if (!response.ok) throw new FieldmergeError(body);
    const report = this.replica.receiveReply(body as PushReply);
    await this.store(report.changed);
    return report;
  }

  /** The records as the device holds them. */
  records(): StoredRecord[] {
    return this.replica.state().records;
  }

  /** How many writes wait for the server. */
  pending(): number {
    return this.replica.state().outbox.length;
  }

  close(): void {
    this.replica.free();
    this.db.close();
  }
}
