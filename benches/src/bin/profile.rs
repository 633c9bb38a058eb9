//! Runs one workload once, for instruction counts under callgrind, which
//! compare kernel changes without the noise of a shared machine:
//!
//! ```text
//! cargo build --release --manifest-path benches/Cargo.toml --bin profile
//! valgrind --tool=callgrind --toggle-collect='*workload_*' benches/target/release/profile state_merge
//! ```
//! Only the functions named `workload_*` (the measured part, not the setup)
//! are counted.

use std::hint::black_box;

use fieldmerge::{Delivery, Replica};
use fieldmerge_bench::*;

#[inline(never)]
fn workload_state_merge(a: &mut Replica, b: &Replica) -> usize {
    a.merge(b).conflicts.len()
}

#[inline(never)]
fn workload_apply_log(r: &mut Replica, batches: &[Vec<fieldmerge::Change>]) -> usize {
    batches
        .iter()
        .map(|batch| r.apply(batch, Delivery::Live).conflicts.len())
        .sum()
}

#[inline(never)]
fn workload_local_write(
    r: &mut Replica,
    patches: &[(
        fieldmerge::RecordKey,
        serde_json::Map<String, serde_json::Value>,
    )],
) -> usize {
    fieldmerge_local_writes(r, patches)
}

fn main() {
    let which = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "state_merge".into());
    match which.as_str() {
        "state_merge" => {
            let spec = state_merge_spec(RECORDS);
            let names = Names::new(&spec.writers);
            let mut a = fieldmerge_replica(&names, &spec.a, "phone");
            let b = fieldmerge_replica(&names, &spec.b, "laptop");
            println!("conflicts: {}", black_box(workload_state_merge(&mut a, &b)));
        }
        "apply_log" => {
            let log = log_spec(RECORDS, LOG_WRITES);
            let names = Names::new(&log.writers);
            let mut r = fieldmerge_replica(&names, &log.start, "phone");
            let batches = fieldmerge_log(&names, &log);
            println!(
                "conflicts: {}",
                black_box(workload_apply_log(&mut r, &batches))
            );
        }
        "local_write" => {
            let spec = state_merge_spec(RECORDS);
            let names = Names::new(&spec.writers);
            let mut r = fieldmerge_replica(&names, &spec.a, "phone");
            let patches = local_patches(RECORDS, 10_000);
            println!(
                "stamped: {}",
                black_box(workload_local_write(&mut r, &patches))
            );
        }
        "sizes" => {
            let log = log_spec(RECORDS, LOG_WRITES);
            let writes: usize = log.changes.iter().map(|(_, regs)| regs.len()).sum();
            println!(
                "change log: {} changes, {writes} field writes",
                log.changes.len()
            );
            let spec = state_merge_spec(RECORDS);
            let names = Names::new(&spec.writers);
            let mut a = fieldmerge_replica(&names, &spec.a, "phone");
            let b = fieldmerge_replica(&names, &spec.b, "laptop");
            let report = a.merge(&b);
            println!(
                "state merge: {:?}, {} conflicts",
                report.tally,
                report.conflicts.len()
            );
        }
        other => eprintln!("unknown workload {other}: state_merge, apply_log, local_write, sizes"),
    }
}
