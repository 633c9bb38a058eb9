//! Fuzz target `sim`: see [`fieldmerge_fuzz::targets::sim_target`] for
//! what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| {
    fieldmerge_fuzz::targets::sim_target(bytes);
});
