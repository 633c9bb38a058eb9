//! Conformance vectors (issue #3): the language-neutral test format of
//! `spec/vectors/` and its runner.
