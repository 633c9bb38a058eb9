//! Fuzz target `differential`: see [`fieldmerge_fuzz::targets::differential_target`] for
//! what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| {
    fieldmerge_fuzz::targets::differential_target(bytes);
});
