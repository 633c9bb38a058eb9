//! Memory per register, measured: a counting global allocator records the
//! live heap bytes of a replica of `RECORDS` x `FIELDS` registers (values
//! are small integers, which live inline in a `serde_json::Value`), plus the
//! `size_of` of the containers; the same for the peers.
//!
//! `cargo run --release --manifest-path benches/Cargo.toml --bin memory`

use std::alloc::{GlobalAlloc, Layout, System};
use std::mem::size_of;
use std::sync::atomic::{AtomicIsize, Ordering};

use fieldmerge::{Record, RecordKey, Register, Replica};
use fieldmerge_bench::*;

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: defers to the system allocator and only counts sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn live() -> isize {
    LIVE.load(Ordering::Relaxed)
}

/// Live heap bytes that `build` leaves behind (the built value is kept).
fn measure<T>(build: impl FnOnce() -> T) -> (T, isize) {
    let before = live();
    let value = build();
    (value, live() - before)
}

fn main() {
    let spec = state_merge_spec(RECORDS);
    let registers = (RECORDS * FIELDS) as f64;
    let value = size_of::<serde_json::Value>() as f64;
    // The names every implementation shares are built outside the measure.
    let names = Names::new(&spec.writers);

    let (replica, heap) = measure(|| fieldmerge_replica(&names, &spec.a, "phone"));
    let total = heap as f64 + size_of::<Replica>() as f64;
    println!("== memory per register ({RECORDS} records x {FIELDS} fields, integer values) ==");
    println!(
        "size_of: Register {} B, Value {} B, Record {} B, RecordKey {} B",
        size_of::<Register>(),
        size_of::<serde_json::Value>(),
        size_of::<Record>(),
        size_of::<RecordKey>()
    );
    let per = |name: &str, total: f64| {
        println!(
            "{name:<12} {:>8.1} B per register, {:>8.1} B beyond the value itself",
            total / registers,
            total / registers - value
        );
    };
    per("fieldmerge", total);
    std::hint::black_box(&replica);
    drop(replica);

    let (naive, heap) = measure(|| naive_replica(&spec.writers, &spec.a));
    per("naive", heap as f64);
    drop(naive);
    let (crdts, heap) = measure(|| crdts_replica(&spec.writers, &spec.a));
    per("crdts", heap as f64);
    drop(crdts);
    println!("(target: fieldmerge at most 64 B per register beyond the value)");
}
