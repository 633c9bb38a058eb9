//! # fieldmerge-json
//!
//! The kernel as JSON text in and JSON text out, in the forms of SPEC R13.1:
//! what a binding to another language calls. Every input is text read by
//! the kernel's one reader (R11.7); every output is canonical text (R11.4);
//! every error is the text of an [`ErrorBody`] `{code, message, index?,
//! field?}` (a push refusal carries every member of R13.1). The C ABI
//! (`fieldmerge-ffi`) is a thin layer over this crate, so every binding
//! agrees byte for byte.
//!
//! Argument objects (`{table, id, actor, patch, now}`, ...) are documented on
//! each function; an `actor` is `{"kind": "user"}`, `{"kind": "ai"}` or
//! `{"kind": "system", "source": "system:..."}`, as in the conformance
//! vectors.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod args;
mod replica;
mod server;
mod values;

pub use crate::args::Error;
pub use crate::replica::JsonReplica;
pub use crate::server::{plan_push, push_reads, JsonServer};
pub use crate::values::{compare_values, derive_updated_at, read_json};

/// A JSON text the library returns.
pub type Text = String;

/// What every call returns: canonical JSON text, or the error's text.
pub type Result<T = Text> = std::result::Result<T, Error>;

#[doc(no_inline)]
pub use fieldmerge::ErrorBody;
