//! `arbitrary::Arbitrary` impls for the crate's types: the one set of
//! generators shared by fuzz targets and property tests (issue #3).
