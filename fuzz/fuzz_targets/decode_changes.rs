//! Fuzz target `decode_changes`: see [`fieldmerge_fuzz::targets::decode_changes_target`] for
//! what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| {
    fieldmerge_fuzz::targets::decode_changes_target(bytes);
});
