//! # fieldmerge-wasm
//!
//! The fieldmerge kernel compiled to WebAssembly with wasm-bindgen: a thin
//! layer over [`fieldmerge_json`], so it agrees with the C ABI byte for byte.
//! Every argument and result is JSON text in the forms of SPEC R13.1; an
//! error is thrown as the text of `{code, message, index?, field?}`. The
//! npm package (`bindings/js`) wraps these raw exports in typed classes and
//! `FieldmergeError`.
//!
//! A panic cannot unwind out of WebAssembly: it traps. The panic hook
//! installed by [`init`] keeps its message, which [`last_panic`] returns,
//! so the JavaScript layer can turn the trap into an error and mark the
//! module unusable.
#![deny(missing_docs)]

use std::sync::Mutex;

use fieldmerge_json::{Error, JsonReplica, JsonServer};
use wasm_bindgen::prelude::*;

static LAST_PANIC: Mutex<Option<String>> = Mutex::new(None);

fn thrown(e: Error) -> JsValue {
    JsValue::from_str(&e.text)
}

/// Installs the panic hook that keeps a panic's message (see
/// [`last_panic`]). Called once when the module loads.
#[wasm_bindgen(start)]
pub fn init() {
    std::panic::set_hook(Box::new(|info| {
        if let Ok(mut last) = LAST_PANIC.lock() {
            *last = Some(info.to_string());
        }
    }));
}

/// The message of the panic that trapped the module, if one did.
#[wasm_bindgen]
pub fn last_panic() -> Option<String> {
    LAST_PANIC.lock().ok().and_then(|last| last.clone())
}

/// Panics: for the package's own test of its panic guard only.
#[wasm_bindgen]
pub fn __panic_for_tests() {
    panic!("a panic on purpose, to test the guard");
}

/// The library's version.
#[wasm_bindgen]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_owned()
}

/// Reads one JSON value (SPEC R11.7): its canonical text (R11.4).
#[wasm_bindgen]
pub fn read_json(text: &str) -> Result<String, JsValue> {
    fieldmerge_json::read_json(text.as_bytes()).map_err(thrown)
}

/// The order of two values (SPEC R4.4): -1, 0 or 1.
#[wasm_bindgen]
pub fn compare_values(a: &str, b: &str) -> Result<i8, JsValue> {
    fieldmerge_json::compare_values(a.as_bytes(), b.as_bytes()).map_err(thrown)
}

/// `derive_updated_at` of a stored row of the replaced system (SPEC R7.2).
#[wasm_bindgen]
pub fn derive_updated_at(row: &str) -> Result<String, JsValue> {
    fieldmerge_json::derive_updated_at(row.as_bytes()).map_err(thrown)
}

/// What a push reads from the server's storage (SPEC R13.3).
#[wasm_bindgen]
pub fn push_reads(push: &str) -> Result<String, JsValue> {
    fieldmerge_json::push_reads(push.as_bytes()).map_err(thrown)
}

/// Plans a push over the server's storage (SPEC R13.3).
#[wasm_bindgen]
pub fn plan_push(config: &str, context: &str, push: &str, now: &str) -> Result<String, JsValue> {
    fieldmerge_json::plan_push(config.as_bytes(), context.as_bytes(), push.as_bytes(), now)
        .map_err(thrown)
}

/// A replica (SPEC R2, R5, R6, R10, R12.4).
#[wasm_bindgen]
pub struct Replica {
    inner: JsonReplica,
}

#[wasm_bindgen]
impl Replica {
    /// A fresh replica with the client id `client_id`.
    #[wasm_bindgen(constructor)]
    pub fn new(client_id: &str) -> Result<Replica, JsValue> {
        JsonReplica::new(client_id)
            .map(|inner| Replica { inner })
            .map_err(thrown)
    }

    /// A replica loaded from its persisted state (SPEC R12.5).
    pub fn load(state: &str) -> Result<Replica, JsValue> {
        JsonReplica::load(state.as_bytes())
            .map(|inner| Replica { inner })
            .map_err(thrown)
    }

    /// The persisted state (SPEC R12.5).
    pub fn state(&self) -> String {
        self.inner.state()
    }

    /// A local write `{table, id, actor, patch, now}`: the change or `null`.
    pub fn write(&mut self, args: &str) -> Result<String, JsValue> {
        self.inner.write(args.as_bytes()).map_err(thrown)
    }

    /// A delete `{table, id, actor, now}`: the change or `null`.
    pub fn delete(&mut self, args: &str) -> Result<String, JsValue> {
        self.inner.delete(args.as_bytes()).map_err(thrown)
    }

    /// A restore `{table, id, actor, now}`: the change or `null`.
    pub fn restore(&mut self, args: &str) -> Result<String, JsValue> {
        self.inner.restore(args.as_bytes()).map_err(thrown)
    }

    /// A bootstrap placeholder `{kind, scope, fields}`: the change or `null`.
    pub fn bootstrap(&mut self, args: &str) -> Result<String, JsValue> {
        self.inner.bootstrap(args.as_bytes()).map_err(thrown)
    }

    /// Op-based apply of a batch (as a hydration round when `hydration`).
    pub fn apply(&mut self, batch: &str, hydration: bool) -> Result<String, JsValue> {
        self.inner
            .apply(batch.as_bytes(), hydration)
            .map_err(thrown)
    }

    /// Applies a pulled page `{after, changes, head}`: the report.
    pub fn apply_page(&mut self, page: &str) -> Result<String, JsValue> {
        self.inner.apply_page(page.as_bytes()).map_err(thrown)
    }

    /// Receives the reply to its push in one call (SPEC R13.4).
    pub fn receive_reply(&mut self, reply: &str) -> Result<String, JsValue> {
        self.inner.receive_reply(reply.as_bytes()).map_err(thrown)
    }

    /// Receives a push refusal in one call at the device's time `now`.
    pub fn receive_refusal(&mut self, refusal: &str, now: &str) -> Result<String, JsValue> {
        self.inner
            .receive_refusal(refusal.as_bytes(), now)
            .map_err(thrown)
    }

    /// The push of the whole outbox.
    pub fn push(&self) -> String {
        self.inner.push()
    }

    /// Acknowledges through a `client_seq` text (or `null`).
    pub fn ack(&mut self, through: &str) -> Result<String, JsValue> {
        self.inner.ack(through.as_bytes()).map_err(thrown)
    }

    /// Forgets the cursor.
    pub fn reset_cursor(&mut self) {
        self.inner.reset_cursor();
    }

    /// Corrects the clock `{server_now, skew_ms_max, log_high, clock_epoch, now}`.
    pub fn correct_clock(&mut self, args: &str) -> Result<String, JsValue> {
        self.inner.correct_clock(args.as_bytes()).map_err(thrown)
    }

    /// State-based merge of another replica's persisted state: the report.
    pub fn merge(&mut self, state: &str) -> Result<String, JsValue> {
        self.inner.merge(state.as_bytes()).map_err(thrown)
    }
}

/// A server whose log the kernel holds in memory (SPEC R12).
#[wasm_bindgen]
pub struct Server {
    inner: JsonServer,
}

#[wasm_bindgen]
impl Server {
    /// A server with the configuration `{skew_ms_max, page_size_max}`.
    #[wasm_bindgen(constructor)]
    pub fn new(config: &str) -> Result<Server, JsValue> {
        JsonServer::new(config.as_bytes())
            .map(|inner| Server { inner })
            .map_err(thrown)
    }

    /// A server rebuilt from its configuration, log and client table.
    pub fn from_log(config: &str, log: &str, clients: &str) -> Result<Server, JsValue> {
        JsonServer::from_log(config.as_bytes(), log.as_bytes(), clients.as_bytes())
            .map(|inner| Server { inner })
            .map_err(thrown)
    }

    /// Handles a push at the server's time `now`: the reply, or throws the
    /// refusal.
    pub fn push(&mut self, push: &str, now: &str) -> Result<String, JsValue> {
        self.inner.push(push.as_bytes(), now).map_err(thrown)
    }

    /// A page after a pull `{cursor, limit?}`.
    pub fn pull(&self, pull: &str) -> Result<String, JsValue> {
        self.inner.pull(pull.as_bytes()).map_err(thrown)
    }

    /// A server-side write `{writer, actor, table, id, patch, now}`.
    pub fn write(&mut self, args: &str) -> Result<String, JsValue> {
        self.inner.write(args.as_bytes()).map_err(thrown)
    }

    /// A server-side bootstrap `{kind, scope, fields}`.
    pub fn bootstrap(&mut self, args: &str) -> Result<String, JsValue> {
        self.inner.bootstrap(args.as_bytes()).map_err(thrown)
    }

    /// The whole log.
    pub fn log(&self) -> String {
        self.inner.log()
    }

    /// The client table.
    pub fn clients(&self) -> String {
        self.inner.clients()
    }

    /// The materialized records.
    pub fn records(&self) -> String {
        self.inner.records()
    }
}
