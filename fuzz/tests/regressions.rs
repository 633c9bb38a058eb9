//! Replays every committed seed and every regression input through the same
//! checks the fuzz targets run, on stable Rust, without libFuzzer:
//! `cargo test --manifest-path fuzz/Cargo.toml`.
//!
//! A crasher found by a campaign is copied to `regressions/<target>/` with a
//! name that says what it pins; this test then keeps it fixed.

use std::path::Path;

use fieldmerge_fuzz::targets::ALL;

fn replay(dir: &str) -> usize {
    let mut count = 0;
    for (name, check) in ALL {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir).join(name);
        let Ok(entries) = std::fs::read_dir(&path) else {
            continue;
        };
        let mut files: Vec<_> = entries.flatten().map(|e| e.path()).collect();
        files.sort();
        for file in files {
            let bytes = std::fs::read(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            eprintln!("replaying {}", file.display());
            check(&bytes);
            count += 1;
        }
    }
    count
}

#[test]
fn every_regression_input_passes_its_target() {
    replay("regressions");
}

#[test]
fn every_seed_passes_its_target() {
    assert!(replay("corpus") > 0, "the seed corpora are empty");
}
