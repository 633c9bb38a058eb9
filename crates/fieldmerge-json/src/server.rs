//! The server's pure side, driven by JSON text: in memory ([`JsonServer`])
//! or over the caller's storage ([`push_reads`], [`plan_push`]).

use fieldmerge::{ClientRow, Pull, Push, PushContext, PushError, Server, ServerConfig, WriterId};
use serde_json::{Map, Value};

use crate::args::{form, text, Args, Error};
use crate::replica::timestamp;
use crate::Result;

/// A server whose log the kernel holds in memory (SPEC R12): for tests and
/// for servers that keep their log elsewhere and rebuild it at start
/// ([`JsonServer::from_log`], R13.2).
#[derive(Clone, Debug)]
pub struct JsonServer {
    server: Server,
}

fn push_error(e: &PushError) -> Error {
    // A refusal carries every member a client needs to correct its clock
    // (SPEC R13.1): its own JSON form, not only the error body.
    Error::value(e.code(), &serde_json::to_value(e).unwrap_or(Value::Null))
}

impl JsonServer {
    /// A server with an empty log and the configuration `{skew_ms_max,
    /// page_size_max, log?}` (SPEC R12.2, R12.3; `log` names the log, and
    /// every page carries the name, R12.7).
    ///
    /// # Errors
    /// `bad_config`, or a text fault.
    pub fn new(config: &[u8]) -> Result<JsonServer> {
        let (config, log) = server_config(config)?;
        Ok(JsonServer {
            server: named(Server::new(config), log)?,
        })
    }

    /// A server rebuilt from what it stored (SPEC R13.2): its configuration,
    /// its log (an array of its entries in order: wire changes with
    /// `server_seq`, and rows that are not changes, which keep their place,
    /// R12.6) and its client table (`{client_id: {last_seq, clock_epoch}}`).
    ///
    /// # Errors
    /// `log_inconsistent` for a log no server could have written; the log's
    /// or table's decode errors.
    pub fn from_log(config: &[u8], log: &[u8], clients: &[u8]) -> Result<JsonServer> {
        let (config, name) = server_config(config)?;
        // Entry by entry: a row that is not a change keeps its place (R12.6).
        let (log, quarantined) = fieldmerge::decode_log(log).map_err(|e| Error::from(&e))?;
        let clients: Map<String, Value> = form(clients)?;
        let mut rows = Vec::with_capacity(clients.len());
        for (id, row) in clients {
            let row: ClientRow = serde_json::from_value(row)
                .map_err(|e| Error::new("wrong_type", &format!("client {id}: {e}")))?;
            rows.push((WriterId::new(&id), row));
        }
        let server = Server::from_log_quarantined(config, log, quarantined, rows)
            .map_err(|e| Error::from(&e))?;
        Ok(JsonServer {
            server: named(server, name)?,
        })
    }

    /// Handles a push `{client_id, changes, cursor, clock_epoch}` at the
    /// server's time `now` (SPEC R12.1-R12.4). Returns the reply `{acked_through,
    /// appended, page, report}`.
    ///
    /// # Errors
    /// The push's decode error, or its refusal with every member of R13.1
    /// (`clock_ahead` and `stale_clock` carry what a client corrects its
    /// clock with); nothing changes.
    pub fn push(&mut self, push: &[u8], now: &str) -> Result {
        let push = Push::from_json(push).map_err(|e| Error::from(&e))?;
        let now = timestamp(now)?;
        let reply = self.server.push(&push, now).map_err(|e| push_error(&e))?;
        Ok(text(&reply))
    }

    /// A page of the log after a pull `{cursor, limit?}` (SPEC R12.2).
    ///
    /// # Errors
    /// The pull's decode error.
    pub fn pull(&self, pull: &[u8]) -> Result {
        let pull: Pull = form(pull)?;
        let limit = pull.limit.unwrap_or(usize::MAX);
        Ok(self.server.pull(pull.cursor, limit).to_text())
    }

    /// A server-side write (`{writer, actor, table, id, patch, now, ext?}`,
    /// SPEC R12.4, R11.8): the logged change, or `null` when it changed
    /// nothing.
    ///
    /// # Errors
    /// The write's error; nothing changes.
    pub fn write(&mut self, args: &[u8]) -> Result {
        let mut a = Args::read(args)?;
        let writer = WriterId::new(&a.string("writer")?);
        let (actor, key, patch, now) = (a.actor()?, a.key()?, a.object("patch")?, a.time("now")?);
        let ext = a.ext()?;
        a.done()?;
        let change = match &ext {
            None => self.server.write(&writer, &actor, &key, &patch, now),
            Some(ext) => self
                .server
                .write_ext(&writer, &actor, &key, &patch, now, ext),
        };
        let change = change.map_err(|e| Error::from(&e))?;
        Ok(change.map_or_else(|| "null".to_owned(), |c| c.to_text()))
    }

    /// A server-side bootstrap (`{kind, scope, fields}` or `{table, id,
    /// fields}`, SPEC R10.3): the logged change, or `null`.
    ///
    /// # Errors
    /// As [`JsonServer::write`].
    pub fn bootstrap(&mut self, args: &[u8]) -> Result {
        let mut a = Args::read(args)?;
        let (key, fields) = (a.key()?, a.object("fields")?);
        a.done()?;
        let change = self
            .server
            .bootstrap(&key, &fields)
            .map_err(|e| Error::from(&e))?;
        Ok(change.map_or_else(|| "null".to_owned(), |c| c.to_text()))
    }

    /// The whole log, in order: wire changes with `server_seq`, and any
    /// entry that is not a change at its place, as it was read (R12.6).
    pub fn log(&self) -> String {
        let log = fieldmerge::encode_log(self.server.log(), self.server.quarantined());
        fieldmerge::canonical_json(&log)
    }

    /// The client table `{client_id: {last_seq, clock_epoch}}` (SPEC R13.2).
    pub fn clients(&self) -> String {
        let table: Map<String, Value> = self
            .server
            .clients()
            .map(|(id, row)| {
                (
                    id.as_str().to_owned(),
                    serde_json::to_value(row).unwrap_or(Value::Null),
                )
            })
            .collect();
        fieldmerge::canonical_json(&Value::Object(table))
    }

    /// The materialized records, in the record form of SPEC R12.5, sorted.
    pub fn records(&self) -> String {
        let records: Vec<Value> = self
            .server
            .records()
            .iter()
            .map(|(key, record)| fieldmerge::record_to_json(key, record))
            .collect();
        fieldmerge::canonical_json(&Value::Array(records))
    }
}

/// What a push reads from the caller's storage (SPEC R13.3, PROTOCOL.md):
/// `{client_id, client_seqs, records}` for a push's text.
///
/// # Errors
/// The push's decode error.
pub fn push_reads(push: &[u8]) -> Result {
    let push = Push::from_json(push).map_err(|e| Error::from(&e))?;
    Ok(text(&fieldmerge::PushReads::of(&push)))
}

/// Plans a push over the caller's storage (SPEC R13.3): the configuration,
/// the context read as [`push_reads`] said, the push and the server's time.
/// Returns the outcome `{"accepted": plan}` or `{"refused": refusal}` to
/// store in one transaction.
///
/// # Errors
/// `not_read` when the context lacks what the push reads; decode errors.
pub fn plan_push(config: &[u8], context: &[u8], push: &[u8], now: &str) -> Result {
    let config: ServerConfig = form(config)?;
    let context: PushContext = form(context)?;
    let push = Push::from_json(push).map_err(|e| Error::from(&e))?;
    let now = timestamp(now)?;
    let outcome =
        fieldmerge::plan_push(&config, &context, &push, now).map_err(|e| Error::from(&e))?;
    Ok(text(&outcome))
}

/// A server's configuration `{skew_ms_max, page_size_max, log?}`: the
/// kernel's [`ServerConfig`] and the log's name (SPEC R12.7), which the
/// server keeps beside it.
fn server_config(text: &[u8]) -> Result<(ServerConfig, Option<String>)> {
    let mut members: Map<String, Value> = form(text)?;
    let log = match members.remove("log") {
        None => None,
        Some(Value::String(log)) => Some(log),
        Some(_) => return Err(Error::new("wrong_type", "log must be a string")),
    };
    // The rest is read as the kernel's form, with its errors.
    let rest = Value::Object(members).to_string();
    let config: ServerConfig = form(rest.as_bytes())?;
    Ok((config, log))
}

fn named(server: Server, log: Option<String>) -> Result<Server> {
    match log {
        None => Ok(server),
        Some(log) => server
            .with_log_name(&log)
            .map_err(|e| Error::new(e.code(), &e.to_string())),
    }
}
