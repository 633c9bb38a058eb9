//! Memory per register, measured: a counting global allocator records the
//! live heap bytes of a replica of `RECORDS` x `FIELDS` registers (values
//! are small integers, which live inline in a `serde_json::Value`), plus the
//! `size_of` of the containers; the same for the peers.
//!
//! `cargo run --release --manifest-path benches/Cargo.toml --bin memory`

use std::alloc::{GlobalAlloc, Layout, System};
use std::mem::size_of;
use std::sync::atomic::{AtomicIsize, Ordering};

use fieldmerge::{Record, RecordKey, Register, Replica, ReplicaState};
use fieldmerge_bench::*;

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);
static PEAK: AtomicIsize = AtomicIsize::new(0);

fn grew(by: isize) {
    let now = LIVE.fetch_add(by, Ordering::Relaxed) + by;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

// SAFETY: defers to the system allocator and only counts sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        grew(layout.size() as isize);
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        grew(new_size as isize - layout.size() as isize);
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn live() -> isize {
    LIVE.load(Ordering::Relaxed)
}

/// The most heap bytes `run` held at once beyond what was live before it.
fn peak<T>(run: impl FnOnce() -> T) -> (T, isize) {
    let before = live();
    PEAK.store(before, Ordering::Relaxed);
    let value = run();
    (value, PEAK.load(Ordering::Relaxed) - before)
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
    // Saving and loading the replica's stored state (SPEC R12.5): through
    // the state's values, and straight (written from the replica, read
    // record by record), as peak heap over the replica's heap (saving) and
    // over the text's length (loading).
    let (text, through) = peak(|| serde_json::to_string(&ReplicaState::of(&replica)));
    let text = text.unwrap_or_default();
    let (straight_text, straight) = peak(|| ReplicaState::text_of(&replica));
    assert_eq!(
        straight_text.len(),
        fieldmerge::canonical_json(&serde_json::from_str(&text).unwrap_or_default()).len()
    );
    let heap = heap as f64;
    println!(
        "save: peak {:.1}x the replica's heap through ReplicaState::of, {:.1}x written straight (text_of)",
        through as f64 / heap,
        straight as f64 / heap
    );
    let len = straight_text.len() as f64;
    let (whole, through) =
        peak(|| fieldmerge::read_form::<ReplicaState>(straight_text.as_bytes()).map(|s| s.load()));
    drop(whole);
    let (loaded, straight) = peak(|| ReplicaState::load_json(straight_text.as_bytes()));
    assert!(loaded.is_ok());
    println!(
        "load: peak {:.1}x the text through the whole text's values, {:.1}x record by record (load_json)",
        through as f64 / len,
        straight as f64 / len
    );
    drop(loaded);
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
