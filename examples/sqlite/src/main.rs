//! Two replicas and a server whose data live in SQLite, over fieldmerge's
//! storage boundary (SPEC R13, spec/PROTOCOL.md): the kernel decides, SQLite
//! stores. Every push is one SQLite transaction (read what the push reads,
//! plan, store the plan); every replica operation is one transaction (read
//! the records the operation reads, run it, store the records it changed
//! with the replica's parts). Half-way through a burst of offline edits the
//! server "restarts": its connection is dropped and reopened, and an
//! in-memory server is rebuilt from the stored log and client table and
//! compared with the stored records. At the end the example checks that
//! every acknowledged write is in the log exactly once, that the replicas
//! converged with the server, and that a server rebuilt from the database
//! equals what the database holds.
//!
//! Run with `cargo run --manifest-path examples/sqlite/Cargo.toml [-- DB_PATH]`; it exits
//! 1 with a message when a check fails.

use std::collections::{BTreeMap, BTreeSet};
use std::error::Error;
use std::path::{Path, PathBuf};

use fieldmerge::{
    plan_push, record_from_json, record_to_json, Actor, ClientRow, LogHead, Page, Push,
    PushContext, PushOutcome, PushReads, PushReply, Record, RecordKey, ReplicaState, Server,
    ServerConfig, StoredReplica, Timestamp, WriterId,
};
use rusqlite::{params, Connection, OptionalExtension, Transaction};
use serde_json::{json, Value};

type Result<T> = std::result::Result<T, Box<dyn Error>>;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS server_log (
    server_seq INTEGER PRIMARY KEY,
    client_id  TEXT NOT NULL,
    client_seq INTEGER,
    change     TEXT NOT NULL,
    UNIQUE (client_id, client_seq)
);
CREATE TABLE IF NOT EXISTS server_records (
    tbl TEXT NOT NULL, id TEXT NOT NULL, record TEXT NOT NULL, PRIMARY KEY (tbl, id)
);
CREATE TABLE IF NOT EXISTS server_clients (client_id TEXT PRIMARY KEY, row TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS server_head (one INTEGER PRIMARY KEY CHECK (one = 1), head TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS replica_records (
    replica TEXT NOT NULL, tbl TEXT NOT NULL, id TEXT NOT NULL, record TEXT NOT NULL,
    PRIMARY KEY (replica, tbl, id)
);
CREATE TABLE IF NOT EXISTS replica_meta (replica TEXT PRIMARY KEY, state TEXT NOT NULL);
";

// ------------------------------------------------------------------ server

/// The server process: a connection and nothing else in memory.
struct SqlServer {
    db: Connection,
    config: ServerConfig,
}

impl SqlServer {
    fn open(path: &Path) -> Result<SqlServer> {
        let db = Connection::open(path)?;
        db.execute_batch(SCHEMA)?;
        Ok(SqlServer {
            db,
            config: ServerConfig::default(),
        })
    }

    /// One push, one transaction (PROTOCOL.md: a push).
    fn push(
        &mut self,
        push: &Push,
        now: Timestamp,
    ) -> Result<std::result::Result<PushReply, Value>> {
        self.push_until(push, now, Commit::Yes)
    }

    /// A push during which the server process dies before it commits.
    fn push_and_crash(&mut self, push: &Push, now: Timestamp) -> Result<()> {
        self.push_until(push, now, Commit::No).map(|_| ())
    }

    fn push_until(
        &mut self,
        push: &Push,
        now: Timestamp,
        commit: Commit,
    ) -> Result<std::result::Result<PushReply, Value>> {
        let config = self.config;
        let tx = self.db.transaction()?;
        let reads = PushReads::of(push);
        let client: ClientRow = match tx
            .query_row(
                "SELECT row FROM server_clients WHERE client_id = ?1",
                [reads.client_id.as_str()],
                |r| r.get::<_, String>(0),
            )
            .optional()?
        {
            Some(text) => serde_json::from_str(&text)?,
            None => ClientRow::default(),
        };
        let mut logged = Vec::new();
        for seq in &reads.client_seqs {
            let change: Option<String> = tx
                .query_row(
                    "SELECT change FROM server_log WHERE client_id = ?1 AND client_seq = ?2",
                    params![reads.client_id.as_str(), seq],
                    |r| r.get(0),
                )
                .optional()?;
            if let Some(text) = change {
                logged.push(serde_json::from_str(&text)?);
            }
        }
        let mut records = BTreeMap::new();
        for key in &reads.records {
            records.insert(key.clone(), server_record(&tx, key)?);
        }
        let context = PushContext {
            log: log_head(&tx)?,
            client,
            logged,
            records,
        };
        match plan_push(&config, &context, push, now)? {
            PushOutcome::Accepted(plan) => {
                for change in &plan.append {
                    tx.execute(
                        "INSERT INTO server_log (server_seq, client_id, client_seq, change) VALUES (?1, ?2, ?3, ?4)",
                        params![change.server_seq(), change.client_id().as_str(), change.client_seq(), serde_json::to_string(change)?],
                    )?;
                }
                for (key, record) in &plan.records {
                    tx.execute(
                        "INSERT OR REPLACE INTO server_records (tbl, id, record) VALUES (?1, ?2, ?3)",
                        params![key.table, key.id, record_to_json(key, record).to_string()],
                    )?;
                }
                store_client(&tx, &push.client_id, plan.client)?;
                tx.execute(
                    "INSERT OR REPLACE INTO server_head (one, head) VALUES (1, ?1)",
                    [serde_json::to_string(&plan.log)?],
                )?;
                let page = pull(&tx, push.cursor, config.page_size_max())?;
                let reply = PushReply {
                    acked_through: plan.acked_through,
                    appended: plan.append.len(),
                    page,
                    report: plan.report,
                };
                // Dropping the transaction uncommitted rolls it back, as a
                // crash before the commit would.
                if commit == Commit::Yes {
                    tx.commit()?;
                }
                Ok(Ok(reply))
            }
            PushOutcome::Refused(refusal) => {
                if let Some(row) = refusal.client {
                    store_client(&tx, &push.client_id, row)?;
                }
                tx.commit()?;
                Ok(Err(serde_json::to_value(&refusal.error)?))
            }
        }
    }

    fn pull(&self, cursor: u64) -> Result<Page> {
        pull(
            &self.db.unchecked_transaction()?,
            cursor,
            self.config.page_size_max(),
        )
    }

    /// The stored parts a restart rebuilds from (R13.2): log and clients.
    fn rebuild(&self) -> Result<Server> {
        let mut stmt = self
            .db
            .prepare("SELECT change FROM server_log ORDER BY server_seq")?;
        let log = stmt
            .query_map([], |r| r.get::<_, String>(0))?
            .map(|t| Ok(serde_json::from_str(&t?)?))
            .collect::<Result<Vec<fieldmerge::Change>>>()?;
        let mut stmt = self
            .db
            .prepare("SELECT client_id, row FROM server_clients ORDER BY client_id")?;
        let clients = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?
            .map(|row| {
                let (id, text) = row?;
                Ok((
                    WriterId::new(&id),
                    serde_json::from_str::<ClientRow>(&text)?,
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Server::from_log(self.config, log, clients)?)
    }

    fn records(&self) -> Result<BTreeMap<RecordKey, Record>> {
        let mut stmt = self.db.prepare("SELECT record FROM server_records")?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        let mut out = BTreeMap::new();
        for text in rows {
            let (key, record) = record_from_json(&serde_json::from_str(&text?)?)?;
            out.insert(key, record);
        }
        Ok(out)
    }
}

fn log_head(tx: &Transaction) -> Result<LogHead> {
    let text: Option<String> = tx
        .query_row("SELECT head FROM server_head", [], |r| r.get(0))
        .optional()?;
    Ok(match text {
        Some(t) => serde_json::from_str(&t)?,
        None => LogHead::default(),
    })
}

fn server_record(tx: &Transaction, key: &RecordKey) -> Result<Option<Record>> {
    let text: Option<String> = tx
        .query_row(
            "SELECT record FROM server_records WHERE tbl = ?1 AND id = ?2",
            params![key.table, key.id],
            |r| r.get(0),
        )
        .optional()?;
    Ok(match text {
        Some(t) => Some(record_from_json(&serde_json::from_str(&t)?)?.1),
        None => None,
    })
}

fn store_client(tx: &Transaction, id: &WriterId, row: ClientRow) -> Result<()> {
    tx.execute(
        "INSERT OR REPLACE INTO server_clients (client_id, row) VALUES (?1, ?2)",
        params![id.as_str(), serde_json::to_string(&row)?],
    )?;
    Ok(())
}

/// The name of this example's log, stored with it (SPEC R12.7).
const LOG_NAME: &str = "sqlite-example";

fn pull(tx: &Transaction, cursor: u64, limit: usize) -> Result<Page> {
    let head = log_head(tx)?.head;
    let mut stmt = tx.prepare(
        "SELECT change FROM server_log WHERE server_seq > ?1 ORDER BY server_seq LIMIT ?2",
    )?;
    let changes = stmt
        .query_map(params![cursor, limit as u64], |r| r.get::<_, String>(0))?
        .map(|t| Ok(serde_json::from_str(&t?)?))
        .collect::<Result<Vec<_>>>()?;
    // Every page names the log (SPEC R12.7): a replica that met another
    // server's log would refuse it rather than skip changes.
    Ok(Page::new(cursor, changes, head).with_log(Some(LOG_NAME.to_owned())))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Commit {
    Yes,
    No,
}

// ----------------------------------------------------------------- replicas

/// A device: its records and its replica's parts in SQLite.
struct SqlReplica {
    db: Connection,
    name: String,
}

impl SqlReplica {
    fn open(path: &Path, name: &str) -> Result<SqlReplica> {
        let db = Connection::open(path)?;
        db.execute_batch(SCHEMA)?;
        let exists: Option<String> = db
            .query_row(
                "SELECT state FROM replica_meta WHERE replica = ?1",
                [name],
                |r| r.get(0),
            )
            .optional()?;
        if exists.is_none() {
            let fresh = ReplicaState::of(&fieldmerge::Replica::new(WriterId::new(name)));
            db.execute(
                "INSERT INTO replica_meta (replica, state) VALUES (?1, ?2)",
                params![name, serde_json::to_string(&fresh)?],
            )?;
        }
        Ok(SqlReplica {
            db,
            name: name.to_owned(),
        })
    }

    /// One operation, one transaction: open the replica from its parts,
    /// provide the records `reads` names, run `op`, store what it changed.
    fn with<T>(
        &mut self,
        reads: impl FnOnce(&StoredReplica) -> Vec<RecordKey>,
        op: impl FnOnce(&mut StoredReplica) -> Result<(T, Vec<RecordKey>)>,
    ) -> Result<T> {
        let tx = self.db.transaction()?;
        let state: String = tx.query_row(
            "SELECT state FROM replica_meta WHERE replica = ?1",
            [&self.name],
            |r| r.get(0),
        )?;
        let mut replica = StoredReplica::open(&serde_json::from_str(&state)?)?;
        for key in reads(&replica) {
            let text: Option<String> = tx
                .query_row(
                    "SELECT record FROM replica_records WHERE replica = ?1 AND tbl = ?2 AND id = ?3",
                    params![self.name, key.table, key.id],
                    |r| r.get(0),
                )
                .optional()?;
            let record = match text {
                Some(t) => Some(record_from_json(&serde_json::from_str(&t)?)?.1),
                None => None,
            };
            replica.provide(key, record);
        }
        let (out, changed) = op(&mut replica)?;
        for key in changed {
            let record = replica
                .record(&key)
                .ok_or("a changed record is in the working set")?;
            tx.execute(
                "INSERT OR REPLACE INTO replica_records (replica, tbl, id, record) VALUES (?1, ?2, ?3, ?4)",
                params![self.name, key.table, key.id, record_to_json(&key, record).to_string()],
            )?;
        }
        tx.execute(
            "UPDATE replica_meta SET state = ?2 WHERE replica = ?1",
            params![self.name, serde_json::to_string(&replica.meta())?],
        )?;
        tx.commit()?;
        Ok(out)
    }

    fn write(&mut self, key: &RecordKey, patch: Value, now: Timestamp) -> Result<()> {
        let patch = patch.as_object().cloned().ok_or("a patch is an object")?;
        self.with(
            |_| vec![key.clone()],
            |r| {
                let change = r.write(key, &Actor::User, &patch, now)?;
                Ok((
                    (),
                    change.map(|c| vec![c.key().clone()]).unwrap_or_default(),
                ))
            },
        )
    }

    fn outbox_push(&mut self) -> Result<Push> {
        self.with(|_| Vec::new(), |r| Ok((r.push(), Vec::new())))
    }

    fn receive(&mut self, reply: &PushReply) -> Result<()> {
        self.with(
            |_| StoredReplica::reads(&reply.page.changes),
            |r| {
                let report = r.receive_reply(reply)?;
                Ok(((), report.changed))
            },
        )
    }

    fn apply_page(&mut self, page: &Page) -> Result<bool> {
        self.with(
            |_| StoredReplica::reads(&page.changes),
            |r| {
                let report = r.apply_page(page)?;
                Ok((page.has_more(), report.changed))
            },
        )
    }

    fn cursor(&mut self) -> Result<u64> {
        self.with(
            |_| Vec::new(),
            |r| Ok((r.cursor().unwrap_or(0), Vec::new())),
        )
    }

    fn records(&self) -> Result<BTreeMap<RecordKey, Record>> {
        let mut stmt = self
            .db
            .prepare("SELECT record FROM replica_records WHERE replica = ?1")?;
        let rows = stmt.query_map([&self.name], |r| r.get::<_, String>(0))?;
        let mut out = BTreeMap::new();
        for text in rows {
            let (key, record) = record_from_json(&serde_json::from_str(&text?)?)?;
            out.insert(key, record);
        }
        Ok(out)
    }
}

/// Pushes the outbox, receives the reply, pulls to the head.
fn sync(replica: &mut SqlReplica, server: &mut SqlServer, now: Timestamp) -> Result<()> {
    let push = replica.outbox_push()?;
    match server.push(&push, now)? {
        Ok(reply) => replica.receive(&reply)?,
        Err(refusal) => return Err(format!("push refused: {refusal}").into()),
    }
    loop {
        let page = server.pull(replica.cursor()?)?;
        if !replica.apply_page(&page)? {
            return Ok(());
        }
    }
}

fn check(what: &str, ok: bool) -> Result<()> {
    if ok {
        println!("ok: {what}");
        Ok(())
    } else {
        Err(format!("FAILED: {what}").into())
    }
}

fn main() -> Result<()> {
    let path = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            std::env::temp_dir().join(format!("fieldmerge-sqlite-{}.db", std::process::id()))
        });
    let _ = std::fs::remove_file(&path);
    let t = |ms: i64| Timestamp::from_ms(1_777_197_600_000 + ms);
    let mut server = SqlServer::open(&path)?;
    let mut phone = SqlReplica::open(&path, "phone")?;
    let mut laptop = SqlReplica::open(&path, "laptop")?;
    let mut written: BTreeSet<(String, u64)> = BTreeSet::new();
    let mut now = 0;
    for round in 0..20u64 {
        for (name, replica) in [("phone", &mut phone), ("laptop", &mut laptop)] {
            for i in 0..5 {
                now += 1;
                let key = RecordKey::new("tasks", &format!("t{}", (round * 5 + i) % 17));
                replica.write(
                    &key,
                    json!({"title": format!("{name} {round}.{i}"), "by": name}),
                    t(now)?,
                )?;
            }
            let outbox = replica.outbox_push()?.changes;
            written.extend(
                outbox
                    .iter()
                    .filter_map(|c| c.client_seq().map(|s| (name.to_owned(), s))),
            );
        }
        if round % 3 == 2 {
            sync(&mut phone, &mut server, t(now)?)?;
            sync(&mut laptop, &mut server, t(now)?)?;
        }
        if round == 13 {
            // The reply to a committed push is lost: the phone pushes the
            // same changes again, and the server appends nothing twice.
            let push = phone.outbox_push()?;
            let _lost = server.push(&push, t(now)?)?;
        }
        if round == 14 {
            // The server dies in the middle of a push, before its commit:
            // nothing of it is stored, and the laptop pushes it again.
            let push = laptop.outbox_push()?;
            server.push_and_crash(&push, t(now)?)?;
            drop(server);
            server = SqlServer::open(&path)?;
        }
        if round == 10 {
            // The server process dies and starts again: only SQLite remains.
            drop(server);
            server = SqlServer::open(&path)?;
            let rebuilt = server.rebuild()?;
            let rebuilt_records: BTreeMap<_, _> = rebuilt
                .records()
                .iter()
                .map(|(k, r)| (k.clone(), r.clone()))
                .collect();
            check(
                "a server rebuilt mid-run from its log equals its stored records",
                rebuilt_records == server.records()?,
            )?;
            // The devices restart too.
            phone = SqlReplica::open(&path, "phone")?;
            laptop = SqlReplica::open(&path, "laptop")?;
        }
    }
    for _ in 0..2 {
        sync(&mut phone, &mut server, t(now)?)?;
        sync(&mut laptop, &mut server, t(now)?)?;
    }
    // Every write made is in the log exactly once.
    let mut stmt = server
        .db
        .prepare("SELECT client_id, client_seq FROM server_log WHERE client_seq IS NOT NULL")?;
    let logged: Vec<(String, u64)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<std::result::Result<_, _>>()?;
    let unique: BTreeSet<(String, u64)> = logged.iter().cloned().collect();
    check(
        &format!("all {} writes are in the log", written.len()),
        unique == written,
    )?;
    check("no write is in the log twice", unique.len() == logged.len())?;
    let records = server.records()?;
    check(
        "the phone converged with the server",
        phone.records()? == records,
    )?;
    check(
        "the laptop converged with the server",
        laptop.records()? == records,
    )?;
    let rebuilt: BTreeMap<_, _> = server
        .rebuild()?
        .records()
        .iter()
        .map(|(k, r)| (k.clone(), r.clone()))
        .collect();
    check(
        "a server rebuilt from the database holds what the database holds",
        rebuilt == records,
    )?;
    check(
        "the outboxes are empty",
        phone.outbox_push()?.changes.is_empty() && laptop.outbox_push()?.changes.is_empty(),
    )?;
    println!(
        "{} records, {} log entries, in {}",
        records.len(),
        logged.len(),
        path.display()
    );
    let _ = std::fs::remove_file(&path);
    Ok(())
}
