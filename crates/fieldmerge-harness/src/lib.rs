//! # fieldmerge-harness
//!
//! Everything that tests the [`fieldmerge`] kernel, and that can test any
//! other implementation of `spec/SPEC.md`: no library user compiles it.
//!
//! - [`vectors`]: the conformance-vector format of `spec/vectors/` and its
//!   engine-neutral runner.
//! - [`gen`]: the one set of generators (over [`arbitrary::Unstructured`])
//!   shared by the property tests, the fuzz targets and the simulator, and
//!   the one action vocabulary ([`gen::Action`]).
//! - [`world`]: the kernel side of an action run; [`model`]: the reference
//!   model, a second implementation written from the spec alone.
//! - [`sim`]: the deterministic simulator, its causal oracle, coverage
//!   marks and shrinker.
//! - [`explorer`]: the exhaustive small-scope explorer.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![deny(rustdoc::broken_intra_doc_links)]

pub mod vectors;

pub mod gen;
#[allow(missing_docs)]
pub mod model;
pub mod world;

pub mod sim;

#[allow(missing_docs)]
pub mod explorer;
