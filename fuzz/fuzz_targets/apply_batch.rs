//! Fuzz target `apply_batch`: see [`fieldmerge_fuzz::targets::apply_batch_target`] for
//! what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| {
    fieldmerge_fuzz::targets::apply_batch_target(bytes);
});
