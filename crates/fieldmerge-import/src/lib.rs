//! Migration from the system fieldmerge replaces (SPEC R14): its stored
//! change rows, the changes its server served, and a device's exported
//! records, into fieldmerge's forms: a server log (R13.2) and a replica
//! state (R12.5), each with a report that says, row by row, what was
//! mapped, defaulted, merged or refused.
//!
//! Pure like the kernel: bytes in, values out, no clock, no files. The
//! `fieldmerge import` command reads the files and prints the result.
//! The same input gives the same output, byte for byte, every time.
//!
//! ```
//! let rows = br#"[{"id": "e1", "table_name": "tasks", "record_id": "t1", "op": "update",
//!   "data": {"title": "Buy milk"}, "field_meta": {"title": "2026-04-26T10:00:00.000Z"},
//!   "client_id": "c1", "created_at": "2026-04-26T10:00:00.361052+00:00",
//!   "actor": {"kind": "user"}, "origin": null}]"#;
//! let import = fieldmerge_import::import_rows(rows).unwrap();
//! assert_eq!(import.log.len(), 1);
//! assert_eq!(import.log[0].ext().unwrap().as_map()["event_id"], "e1");
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![deny(rustdoc::broken_intra_doc_links)]
#![warn(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod device;
mod input;
mod mapping;
mod report;
mod rows;
mod served;
mod time;

pub use crate::device::{import_device, DeviceImport};
pub use crate::report::{Note, Outcome, RowReport};
pub use crate::rows::{import_rows, LogImport};
pub use crate::served::{import_served, SERVED_WRITER};
pub use crate::time::{legacy_instant, Instant};
