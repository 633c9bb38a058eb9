//! # fieldmerge-ffi
//!
//! The C ABI of the fieldmerge kernel, over [`fieldmerge_json`]: every
//! argument and result is JSON text in the forms of SPEC R13.1.
//!
//! - **Handles.** [`FmReplica`] and [`FmServer`] are opaque tokens, never
//!   pointers to memory: the library keeps a table of live handles, so a
//!   NULL, freed or foreign handle is refused with `bad_handle` instead of
//!   being dereferenced. `fm_*_free` ends a handle; freeing twice is
//!   `bad_handle`, never a crash.
//! - **Inputs** are byte buffers `(ptr, len)` of UTF-8 JSON text (or of a
//!   timestamp, for `now`); `ptr` may be NULL only when `len` is 0.
//! - **Outputs.** Every fallible call returns an [`FmStatus`] and writes one
//!   NUL-terminated text to `*out`: the result on [`FmStatus::Ok`], the error
//!   `{code, message, index?, field?}` on [`FmStatus::Error`] (a push
//!   refusal carries every member of R13.1). Free it with
//!   [`fm_string_free`], the one free function for what the library returns.
//!   `out` itself may be NULL (the text is then dropped).
//! - **Panics** never cross the boundary: a panic becomes the error `panic`,
//!   and the handle it happened on answers every later call with
//!   `poisoned` (its state may be half changed): free it and load the last
//!   stored state. Other handles stay usable.
//! - **Threads.** Every handle is internally locked: calls on one handle
//!   from several threads are serialized, calls on different handles run in
//!   parallel. A handle may move between threads.
//!
//! Binding error codes, besides the kernel's: `null_pointer` (a NULL input
//! with a nonzero length, or a NULL handle out-pointer), `bad_utf8`,
//! `bad_handle`, `panic`, `poisoned`.
#![deny(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]

mod boundary;
mod handles;
mod ops;

pub use crate::boundary::{fm_string_free, fm_version, FmStatus};
pub use crate::handles::{FmReplica, FmServer};
pub use crate::ops::*;
