//! One C function per operation. Each reads its inputs, runs one call of
//! [`fieldmerge_json`] and writes the result or the error to `out`.

use std::ffi::c_char;

use fieldmerge_json::{JsonReplica, JsonServer};

use crate::boundary::{bytes, call, text, FmStatus};
use crate::handles::{insert, remove, with, FmReplica, FmServer, REPLICAS, SERVERS};

/// A fresh replica with the client id `client_id` (SPEC R12.5); its handle goes
/// to `*handle`, `null` to `*out`.
///
/// # Safety
/// Every `(ptr, len)` input is NULL with `len` 0, or points to `len` readable bytes valid for the call; `out` is NULL or points to writable storage for one pointer; the handle out-pointer is NULL (refused) or points to writable storage for one handle.
#[no_mangle]
pub unsafe extern "C" fn fm_replica_new(
    client_id: *const u8,
    client_id_len: usize,
    handle: *mut *mut FmReplica,
    out: *mut *mut c_char,
) -> FmStatus {
    call(out, || {
        // SAFETY: the caller's contract for `client_id`.
        let client_id = unsafe { text(client_id, client_id_len) }?;
        if handle.is_null() {
            return Err(fieldmerge_json::Error::new(
                "null_pointer",
                "the handle out-pointer is NULL",
            ));
        }
        let value = JsonReplica::new(client_id)?;
        let id = insert(&REPLICAS, value);
        // SAFETY: `handle` is non-null and points to writable storage.
        unsafe { *handle = id as *mut FmReplica };
        Ok("null".to_owned())
    })
}

/// A replica loaded from its persisted state text (SPEC R12.5).
///
/// # Safety
/// Every `(ptr, len)` input is NULL with `len` 0, or points to `len` readable bytes valid for the call; `out` is NULL or points to writable storage for one pointer; the handle out-pointer is NULL (refused) or points to writable storage for one handle.
#[no_mangle]
pub unsafe extern "C" fn fm_replica_load(
    state: *const u8,
    state_len: usize,
    handle: *mut *mut FmReplica,
    out: *mut *mut c_char,
) -> FmStatus {
    call(out, || {
        // SAFETY: the caller's contract for `state`.
        let state = unsafe { bytes(state, state_len) }?;
        if handle.is_null() {
            return Err(fieldmerge_json::Error::new(
                "null_pointer",
                "the handle out-pointer is NULL",
            ));
        }
        let value = JsonReplica::load(state)?;
        let id = insert(&REPLICAS, value);
        // SAFETY: `handle` is non-null and points to writable storage.
        unsafe { *handle = id as *mut FmReplica };
        Ok("null".to_owned())
    })
}

/// Ends a replica handle. `bad_handle` when it is not live.
///
/// # Safety
/// Every `(ptr, len)` input is NULL with `len` 0, or points to `len` readable bytes valid for the call; `out` is NULL or points to writable storage for one pointer.
#[no_mangle]
pub unsafe extern "C" fn fm_replica_free(
    replica: *mut FmReplica,
    out: *mut *mut c_char,
) -> FmStatus {
    call(out, || {
        remove(&REPLICAS, replica as usize).map(|()| "null".to_owned())
    })
}

/// The replica's persisted state (SPEC R12.5): store it after every operation.
///
/// # Safety
/// Every `(ptr, len)` input is NULL with `len` 0, or points to `len` readable bytes valid for the call; `out` is NULL or points to writable storage for one pointer.
#[no_mangle]
pub unsafe extern "C" fn fm_replica_state(
    replica: *mut FmReplica,
    out: *mut *mut c_char,
) -> FmStatus {
    call(out, || with(&REPLICAS, replica as usize, |r| Ok(r.state())))
}

/// A local write `{table, id, actor, patch, now}` (SPEC R5): the wire change or `null`.
///
/// # Safety
/// Every `(ptr, len)` input is NULL with `len` 0, or points to `len` readable bytes valid for the call; `out` is NULL or points to writable storage for one pointer.
#[no_mangle]
pub unsafe extern "C" fn fm_replica_write(
    replica: *mut FmReplica,
    args: *const u8,
    args_len: usize,
    out: *mut *mut c_char,
) -> FmStatus {
    call(out, || {
        // SAFETY: the caller's contract for `args`.
        let args = unsafe { bytes(args, args_len) }?;
        with(&REPLICAS, replica as usize, |r| r.write(args))
    })
}

/// A delete `{table, id, actor, now}` (SPEC R9.1): the change or `null`.
///
/// # Safety
/// Every `(ptr, len)` input is NULL with `len` 0, or points to `len` readable bytes valid for the call; `out` is NULL or points to writable storage for one pointer.
#[no_mangle]
pub unsafe extern "C" fn fm_replica_delete(
    replica: *mut FmReplica,
    args: *const u8,
    args_len: usize,
    out: *mut *mut c_char,
) -> FmStatus {
    call(out, || {
        // SAFETY: the caller's contract for `args`.
        let args = unsafe { bytes(args, args_len) }?;
        with(&REPLICAS, replica as usize, |r| r.delete(args))
    })
}

/// A restore `{table, id, actor, now}` (SPEC R9.1): the change or `null`.
///
/// # Safety
/// Every `(ptr, len)` input is NULL with `len` 0, or points to `len` readable bytes valid for the call; `out` is NULL or points to writable storage for one pointer.
#[no_mangle]
pub unsafe extern "C" fn fm_replica_restore(
    replica: *mut FmReplica,
    args: *const u8,
    args_len: usize,
    out: *mut *mut c_char,
) -> FmStatus {
    call(out, || {
        // SAFETY: the caller's contract for `args`.
        let args = unsafe { bytes(args, args_len) }?;
        with(&REPLICAS, replica as usize, |r| r.restore(args))
    })
}

/// A bootstrap placeholder `{kind, scope, fields}` (SPEC R10): the change or `null`.
///
/// # Safety
/// Every `(ptr, len)` input is NULL with `len` 0, or points to `len` readable bytes valid for the call; `out` is NULL or points to writable storage for one pointer.
#[no_mangle]
pub unsafe extern "C" fn fm_replica_bootstrap(
    replica: *mut FmReplica,
    args: *const u8,
    args_len: usize,
    out: *mut *mut c_char,
) -> FmStatus {
    call(out, || {
        // SAFETY: the caller's contract for `args`.
        let args = unsafe { bytes(args, args_len) }?;
        with(&REPLICAS, replica as usize, |r| r.bootstrap(args))
    })
}

/// Applies a pulled page `{after, changes, head}` (SPEC R12.2): the report.
///
/// # Safety
/// Every `(ptr, len)` input is NULL with `len` 0, or points to `len` readable bytes valid for the call; `out` is NULL or points to writable storage for one pointer.
#[no_mangle]
pub unsafe extern "C" fn fm_replica_apply_page(
    replica: *mut FmReplica,
    args: *const u8,
    args_len: usize,
    out: *mut *mut c_char,
) -> FmStatus {
    call(out, || {
        // SAFETY: the caller's contract for `args`.
        let args = unsafe { bytes(args, args_len) }?;
        with(&REPLICAS, replica as usize, |r| r.apply_page(args))
    })
}

/// Receives the reply to its push in one call (SPEC R13.4): the report.
///
/// # Safety
/// Every `(ptr, len)` input is NULL with `len` 0, or points to `len` readable bytes valid for the call; `out` is NULL or points to writable storage for one pointer.
#[no_mangle]
pub unsafe extern "C" fn fm_replica_receive_reply(
    replica: *mut FmReplica,
    args: *const u8,
    args_len: usize,
    out: *mut *mut c_char,
) -> FmStatus {
    call(out, || {
        // SAFETY: the caller's contract for `args`.
        let args = unsafe { bytes(args, args_len) }?;
        with(&REPLICAS, replica as usize, |r| r.receive_reply(args))
    })
}

/// Acknowledges through a `client_seq` text (or `null`), SPEC R12.1.
///
/// # Safety
/// Every `(ptr, len)` input is NULL with `len` 0, or points to `len` readable bytes valid for the call; `out` is NULL or points to writable storage for one pointer.
#[no_mangle]
pub unsafe extern "C" fn fm_replica_ack(
    replica: *mut FmReplica,
    args: *const u8,
    args_len: usize,
    out: *mut *mut c_char,
) -> FmStatus {
    call(out, || {
        // SAFETY: the caller's contract for `args`.
        let args = unsafe { bytes(args, args_len) }?;
        with(&REPLICAS, replica as usize, |r| r.ack(args))
    })
}

/// Corrects the clock `{server_now, skew_ms_max, log_high, clock_epoch, now}` (SPEC R12.4).
///
/// # Safety
/// Every `(ptr, len)` input is NULL with `len` 0, or points to `len` readable bytes valid for the call; `out` is NULL or points to writable storage for one pointer.
#[no_mangle]
pub unsafe extern "C" fn fm_replica_correct_clock(
    replica: *mut FmReplica,
    args: *const u8,
    args_len: usize,
    out: *mut *mut c_char,
) -> FmStatus {
    call(out, || {
        // SAFETY: the caller's contract for `args`.
        let args = unsafe { bytes(args, args_len) }?;
        with(&REPLICAS, replica as usize, |r| r.correct_clock(args))
    })
}

/// State-based merge of another replica's persisted state (SPEC R4.5): the report.
///
/// # Safety
/// Every `(ptr, len)` input is NULL with `len` 0, or points to `len` readable bytes valid for the call; `out` is NULL or points to writable storage for one pointer.
#[no_mangle]
pub unsafe extern "C" fn fm_replica_merge(
    replica: *mut FmReplica,
    args: *const u8,
    args_len: usize,
    out: *mut *mut c_char,
) -> FmStatus {
    call(out, || {
        // SAFETY: the caller's contract for `args`.
        let args = unsafe { bytes(args, args_len) }?;
        with(&REPLICAS, replica as usize, |r| r.merge(args))
    })
}

/// Op-based apply of a batch of wire changes (SPEC R6, R11.5): the report.
/// `hydration` nonzero applies it as an initial hydration round.
///
/// # Safety
/// Every `(ptr, len)` input is NULL with `len` 0, or points to `len` readable bytes valid for the call; `out` is NULL or points to writable storage for one pointer.
#[no_mangle]
pub unsafe extern "C" fn fm_replica_apply(
    replica: *mut FmReplica,
    batch: *const u8,
    batch_len: usize,
    hydration: i32,
    out: *mut *mut c_char,
) -> FmStatus {
    call(out, || {
        // SAFETY: the caller's contract for `batch`.
        let batch = unsafe { bytes(batch, batch_len) }?;
        with(&REPLICAS, replica as usize, |r| {
            r.apply(batch, hydration != 0)
        })
    })
}

/// Receives a push refusal (its error text) in one call (SPEC R13.4), at the
/// device's wall time `now` (a timestamp).
///
/// # Safety
/// Every `(ptr, len)` input is NULL with `len` 0, or points to `len` readable bytes valid for the call; `out` is NULL or points to writable storage for one pointer.
#[no_mangle]
pub unsafe extern "C" fn fm_replica_receive_refusal(
    replica: *mut FmReplica,
    refusal: *const u8,
    refusal_len: usize,
    now: *const u8,
    now_len: usize,
    out: *mut *mut c_char,
) -> FmStatus {
    call(out, || {
        // SAFETY: the caller's contract for `refusal`.
        let refusal = unsafe { bytes(refusal, refusal_len) }?;
        // SAFETY: the caller's contract for `now`.
        let now = unsafe { text(now, now_len) }?;
        with(&REPLICAS, replica as usize, |r| {
            r.receive_refusal(refusal, now)
        })
    })
}

/// The push of the replica's whole outbox (SPEC R12.1).
///
/// # Safety
/// Every `(ptr, len)` input is NULL with `len` 0, or points to `len` readable bytes valid for the call; `out` is NULL or points to writable storage for one pointer.
#[no_mangle]
pub unsafe extern "C" fn fm_replica_push(
    replica: *mut FmReplica,
    out: *mut *mut c_char,
) -> FmStatus {
    call(out, || with(&REPLICAS, replica as usize, |r| Ok(r.push())))
}

/// Forgets the cursor: the next pull is a new hydration round.
///
/// # Safety
/// Every `(ptr, len)` input is NULL with `len` 0, or points to `len` readable bytes valid for the call; `out` is NULL or points to writable storage for one pointer.
#[no_mangle]
pub unsafe extern "C" fn fm_replica_reset_cursor(
    replica: *mut FmReplica,
    out: *mut *mut c_char,
) -> FmStatus {
    call(out, || {
        with(&REPLICAS, replica as usize, |r| {
            r.reset_cursor();
            Ok("null".to_owned())
        })
    })
}

/// A server with an empty log and the configuration `{skew_ms_max,
/// page_size_max}` (SPEC R12).
///
/// # Safety
/// Every `(ptr, len)` input is NULL with `len` 0, or points to `len` readable bytes valid for the call; `out` is NULL or points to writable storage for one pointer; the handle out-pointer is NULL (refused) or points to writable storage for one handle.
#[no_mangle]
pub unsafe extern "C" fn fm_server_new(
    config: *const u8,
    config_len: usize,
    handle: *mut *mut FmServer,
    out: *mut *mut c_char,
) -> FmStatus {
    call(out, || {
        // SAFETY: the caller's contract for `config`.
        let config = unsafe { bytes(config, config_len) }?;
        if handle.is_null() {
            return Err(fieldmerge_json::Error::new(
                "null_pointer",
                "the handle out-pointer is NULL",
            ));
        }
        let value = JsonServer::new(config)?;
        let id = insert(&SERVERS, value);
        // SAFETY: `handle` is non-null and points to writable storage.
        unsafe { *handle = id as *mut FmServer };
        Ok("null".to_owned())
    })
}

/// A server rebuilt from its configuration, log and client table (SPEC R13.2).
///
/// # Safety
/// Every `(ptr, len)` input is NULL with `len` 0, or points to `len` readable bytes valid for the call; `out` is NULL or points to writable storage for one pointer; the handle out-pointer is NULL (refused) or points to writable storage for one handle.
#[no_mangle]
pub unsafe extern "C" fn fm_server_from_log(
    config: *const u8,
    config_len: usize,
    log: *const u8,
    log_len: usize,
    clients: *const u8,
    clients_len: usize,
    handle: *mut *mut FmServer,
    out: *mut *mut c_char,
) -> FmStatus {
    call(out, || {
        // SAFETY: the caller's contract for `config`.
        let config = unsafe { bytes(config, config_len) }?;
        // SAFETY: the caller's contract for `log`.
        let log = unsafe { bytes(log, log_len) }?;
        // SAFETY: the caller's contract for `clients`.
        let clients = unsafe { bytes(clients, clients_len) }?;
        if handle.is_null() {
            return Err(fieldmerge_json::Error::new(
                "null_pointer",
                "the handle out-pointer is NULL",
            ));
        }
        let value = JsonServer::from_log(config, log, clients)?;
        let id = insert(&SERVERS, value);
        // SAFETY: `handle` is non-null and points to writable storage.
        unsafe { *handle = id as *mut FmServer };
        Ok("null".to_owned())
    })
}

/// Ends a server handle. `bad_handle` when it is not live.
///
/// # Safety
/// Every `(ptr, len)` input is NULL with `len` 0, or points to `len` readable bytes valid for the call; `out` is NULL or points to writable storage for one pointer.
#[no_mangle]
pub unsafe extern "C" fn fm_server_free(server: *mut FmServer, out: *mut *mut c_char) -> FmStatus {
    call(out, || {
        remove(&SERVERS, server as usize).map(|()| "null".to_owned())
    })
}

/// Handles a push at the server's time `now` (SPEC R12.1-R12.4): the reply, or
/// the refusal with every member of R13.1.
///
/// # Safety
/// Every `(ptr, len)` input is NULL with `len` 0, or points to `len` readable bytes valid for the call; `out` is NULL or points to writable storage for one pointer.
#[no_mangle]
pub unsafe extern "C" fn fm_server_push(
    server: *mut FmServer,
    push: *const u8,
    push_len: usize,
    now: *const u8,
    now_len: usize,
    out: *mut *mut c_char,
) -> FmStatus {
    call(out, || {
        // SAFETY: the caller's contract for `push`.
        let push = unsafe { bytes(push, push_len) }?;
        // SAFETY: the caller's contract for `now`.
        let now = unsafe { text(now, now_len) }?;
        with(&SERVERS, server as usize, |s| s.push(push, now))
    })
}

/// A page of the log after a pull `{cursor, limit?}` (SPEC R12.2).
///
/// # Safety
/// Every `(ptr, len)` input is NULL with `len` 0, or points to `len` readable bytes valid for the call; `out` is NULL or points to writable storage for one pointer.
#[no_mangle]
pub unsafe extern "C" fn fm_server_pull(
    server: *mut FmServer,
    pull: *const u8,
    pull_len: usize,
    out: *mut *mut c_char,
) -> FmStatus {
    call(out, || {
        // SAFETY: the caller's contract for `pull`.
        let pull = unsafe { bytes(pull, pull_len) }?;
        with(&SERVERS, server as usize, |s| s.pull(pull))
    })
}

/// A server-side write `{writer, actor, table, id, patch, now}` (SPEC R12.4).
///
/// # Safety
/// Every `(ptr, len)` input is NULL with `len` 0, or points to `len` readable bytes valid for the call; `out` is NULL or points to writable storage for one pointer.
#[no_mangle]
pub unsafe extern "C" fn fm_server_write(
    server: *mut FmServer,
    args: *const u8,
    args_len: usize,
    out: *mut *mut c_char,
) -> FmStatus {
    call(out, || {
        // SAFETY: the caller's contract for `args`.
        let args = unsafe { bytes(args, args_len) }?;
        with(&SERVERS, server as usize, |s| s.write(args))
    })
}

/// A server-side bootstrap `{kind, scope, fields}` (SPEC R10.3).
///
/// # Safety
/// Every `(ptr, len)` input is NULL with `len` 0, or points to `len` readable bytes valid for the call; `out` is NULL or points to writable storage for one pointer.
#[no_mangle]
pub unsafe extern "C" fn fm_server_bootstrap(
    server: *mut FmServer,
    args: *const u8,
    args_len: usize,
    out: *mut *mut c_char,
) -> FmStatus {
    call(out, || {
        // SAFETY: the caller's contract for `args`.
        let args = unsafe { bytes(args, args_len) }?;
        with(&SERVERS, server as usize, |s| s.bootstrap(args))
    })
}

/// The whole log, wire changes with `server_seq`.
///
/// # Safety
/// Every `(ptr, len)` input is NULL with `len` 0, or points to `len` readable bytes valid for the call; `out` is NULL or points to writable storage for one pointer.
#[no_mangle]
pub unsafe extern "C" fn fm_server_log(server: *mut FmServer, out: *mut *mut c_char) -> FmStatus {
    call(out, || with(&SERVERS, server as usize, |s| Ok(s.log())))
}

/// The client table `{client_id: {last_seq, clock_epoch}}` (SPEC R13.2).
///
/// # Safety
/// Every `(ptr, len)` input is NULL with `len` 0, or points to `len` readable bytes valid for the call; `out` is NULL or points to writable storage for one pointer.
#[no_mangle]
pub unsafe extern "C" fn fm_server_clients(
    server: *mut FmServer,
    out: *mut *mut c_char,
) -> FmStatus {
    call(out, || with(&SERVERS, server as usize, |s| Ok(s.clients())))
}

/// The materialized records, sorted.
///
/// # Safety
/// Every `(ptr, len)` input is NULL with `len` 0, or points to `len` readable bytes valid for the call; `out` is NULL or points to writable storage for one pointer.
#[no_mangle]
pub unsafe extern "C" fn fm_server_records(
    server: *mut FmServer,
    out: *mut *mut c_char,
) -> FmStatus {
    call(out, || with(&SERVERS, server as usize, |s| Ok(s.records())))
}

/// What a push reads from the caller's storage (SPEC R13.3).
///
/// # Safety
/// Every `(ptr, len)` input is NULL with `len` 0, or points to `len` readable bytes valid for the call; `out` is NULL or points to writable storage for one pointer.
#[no_mangle]
pub unsafe extern "C" fn fm_push_reads(
    push: *const u8,
    push_len: usize,
    out: *mut *mut c_char,
) -> FmStatus {
    call(out, || {
        // SAFETY: the caller's contract for `push`.
        let push = unsafe { bytes(push, push_len) }?;
        fieldmerge_json::push_reads(push)
    })
}

/// Plans a push over the caller's storage (SPEC R13.3): `{"accepted": plan}`
/// or `{"refused": refusal}`.
///
/// # Safety
/// Every `(ptr, len)` input is NULL with `len` 0, or points to `len` readable bytes valid for the call; `out` is NULL or points to writable storage for one pointer.
#[no_mangle]
pub unsafe extern "C" fn fm_plan_push(
    config: *const u8,
    config_len: usize,
    context: *const u8,
    context_len: usize,
    push: *const u8,
    push_len: usize,
    now: *const u8,
    now_len: usize,
    out: *mut *mut c_char,
) -> FmStatus {
    call(out, || {
        // SAFETY: the caller's contract for `config`.
        let config = unsafe { bytes(config, config_len) }?;
        // SAFETY: the caller's contract for `context`.
        let context = unsafe { bytes(context, context_len) }?;
        // SAFETY: the caller's contract for `push`.
        let push = unsafe { bytes(push, push_len) }?;
        // SAFETY: the caller's contract for `now`.
        let now = unsafe { text(now, now_len) }?;
        fieldmerge_json::plan_push(config, context, push, now)
    })
}

/// Reads one JSON value (SPEC R11.7): its canonical text (R11.4).
///
/// # Safety
/// Every `(ptr, len)` input is NULL with `len` 0, or points to `len` readable bytes valid for the call; `out` is NULL or points to writable storage for one pointer.
#[no_mangle]
pub unsafe extern "C" fn fm_read_json(
    text: *const u8,
    text_len: usize,
    out: *mut *mut c_char,
) -> FmStatus {
    call(out, || {
        // SAFETY: the caller's contract for `text`.
        let text = unsafe { bytes(text, text_len) }?;
        fieldmerge_json::read_json(text)
    })
}

/// The order of two values (SPEC R4.4): `-1`, `0` or `1` as text.
///
/// # Safety
/// Every `(ptr, len)` input is NULL with `len` 0, or points to `len` readable bytes valid for the call; `out` is NULL or points to writable storage for one pointer.
#[no_mangle]
pub unsafe extern "C" fn fm_compare_values(
    a: *const u8,
    a_len: usize,
    b: *const u8,
    b_len: usize,
    out: *mut *mut c_char,
) -> FmStatus {
    call(out, || {
        // SAFETY: the caller's contract for `a`.
        let a = unsafe { bytes(a, a_len) }?;
        // SAFETY: the caller's contract for `b`.
        let b = unsafe { bytes(b, b_len) }?;
        fieldmerge_json::compare_values(a, b).map(|o| o.to_string())
    })
}

/// `derive_updated_at` of a stored row of the replaced system (SPEC R7.2).
///
/// # Safety
/// Every `(ptr, len)` input is NULL with `len` 0, or points to `len` readable bytes valid for the call; `out` is NULL or points to writable storage for one pointer.
#[no_mangle]
pub unsafe extern "C" fn fm_derive_updated_at(
    row: *const u8,
    row_len: usize,
    out: *mut *mut c_char,
) -> FmStatus {
    call(out, || {
        // SAFETY: the caller's contract for `row`.
        let row = unsafe { bytes(row, row_len) }?;
        fieldmerge_json::derive_updated_at(row)
    })
}
