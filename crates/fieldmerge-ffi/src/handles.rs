//! The table of live handles: a handle is a number, never a pointer, so a
//! stale or forged one is found absent instead of dereferenced.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use fieldmerge_json::{Error, JsonReplica, JsonServer};

/// A replica handle (opaque; never dereferenced by the library).
pub struct FmReplica {
    _private: [u8; 0],
}

/// A server handle (opaque; never dereferenced by the library).
pub struct FmServer {
    _private: [u8; 0],
}

pub(crate) struct Table<T> {
    live: BTreeMap<u64, Arc<Mutex<T>>>,
}

/// The next handle: one sequence for every kind, so a replica's handle is
/// never a live server's (a handle of the wrong kind is `bad_handle`).
static NEXT: AtomicU64 = AtomicU64::new(1);

pub(crate) static REPLICAS: Mutex<Table<JsonReplica>> = Mutex::new(Table::new());
pub(crate) static SERVERS: Mutex<Table<JsonServer>> = Mutex::new(Table::new());

impl<T> Table<T> {
    const fn new() -> Table<T> {
        Table {
            live: BTreeMap::new(),
        }
    }
}

fn bad_handle() -> Error {
    Error::new(
        "bad_handle",
        "the handle is NULL, freed, or not of this kind",
    )
}

/// Registers `value` and returns its handle.
pub(crate) fn insert<T>(table: &Mutex<Table<T>>, value: T) -> u64 {
    let id = NEXT.fetch_add(1, Ordering::Relaxed);
    let mut table = table.lock().unwrap_or_else(PoisonError::into_inner);
    table.live.insert(id, Arc::new(Mutex::new(value)));
    id
}

/// Runs `f` on the live value behind `handle`, holding its lock.
pub(crate) fn with<T, R>(
    table: &Mutex<Table<T>>,
    handle: usize,
    f: impl FnOnce(&mut T) -> Result<R, Error>,
) -> Result<R, Error> {
    let entry = {
        let table = table.lock().unwrap_or_else(PoisonError::into_inner);
        table.live.get(&(handle as u64)).cloned()
    };
    let entry = entry.ok_or_else(bad_handle)?;
    // A panic inside `f` poisons the lock: the value may be half changed,
    // so the handle says so on every later call instead of guessing.
    let mut value = entry.lock().map_err(|_| {
        Error::new(
            "poisoned",
            "an earlier call on this handle panicked: free it and load the last stored state",
        )
    })?;
    f(&mut value)
}

/// Ends a handle.
pub(crate) fn remove<T>(table: &Mutex<Table<T>>, handle: usize) -> Result<(), Error> {
    let mut table = table.lock().unwrap_or_else(PoisonError::into_inner);
    let removed = table.live.remove(&(handle as u64)).map(drop);
    if table.live.is_empty() {
        // An empty `BTreeMap` keeps its root node: let it go, so a process
        // that freed every handle holds no memory of the library's.
        table.live = BTreeMap::new();
    }
    removed.ok_or_else(bad_handle)
}
