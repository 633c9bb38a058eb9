//! Criterion benchmarks of fieldmerge and its peers on the workloads of
//! issue #5, followed by a table of medians and peer/fieldmerge ratios.
//!
//! Full run:  `cargo bench --manifest-path benches/Cargo.toml`
//! Short run: `cargo bench --manifest-path benches/Cargo.toml -- --warm-up-time 1 --measurement-time 3 --sample-size 10`
//! One group: `cargo bench --manifest-path benches/Cargo.toml -- state_merge`

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use criterion::{BatchSize, Criterion, Throughput};
use fieldmerge::{decode_changes, derive_updated_at, encode_changes, record_to_json, Delivery};
use fieldmerge_bench::*;

fn state_merge(c: &mut Criterion) {
    let spec = state_merge_spec(RECORDS);
    let names = Names::new(&spec.writers);
    let fa = fieldmerge_replica(&names, &spec.a, "phone");
    let fb = fieldmerge_replica(&names, &spec.b, "laptop");
    let na = naive_replica(&spec.writers, &spec.a);
    let nb = naive_replica(&spec.writers, &spec.b);
    let ca = crdts_replica(&spec.writers, &spec.a);
    let cb = crdts_replica(&spec.writers, &spec.b);
    let (aa, ab) = automerge_docs(&spec);

    let mut g = c.benchmark_group("state_merge");
    g.throughput(Throughput::Elements((RECORDS * FIELDS) as u64));
    g.bench_function("fieldmerge", |b| {
        b.iter_batched_ref(
            || fa.clone(),
            |a| black_box(a.merge(&fb)),
            BatchSize::LargeInput,
        )
    });
    g.bench_function("fieldmerge_records", |b| {
        b.iter_batched_ref(
            || {
                fa.records()
                    .iter()
                    .map(|(k, r)| (k.clone(), r.clone()))
                    .collect::<std::collections::BTreeMap<_, _>>()
            },
            |a| {
                for (key, theirs) in fb.records() {
                    a.entry(key.clone()).or_default().merge(theirs);
                }
            },
            BatchSize::LargeInput,
        )
    });
    g.bench_function("naive", |b| {
        b.iter_batched_ref(
            || na.clone(),
            |a| naive_merge(a, &nb),
            BatchSize::LargeInput,
        )
    });
    g.bench_function("crdts", |b| {
        b.iter_batched_ref(
            || ca.clone(),
            |a| crdts_merge(a, &cb),
            BatchSize::LargeInput,
        )
    });
    g.sample_size(10);
    g.bench_function("automerge", |b| {
        b.iter_batched_ref(
            || (aa.clone(), ab.clone()),
            |(a, b)| {
                a.merge(b).expect("merge");
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

fn apply_log(c: &mut Criterion) {
    let log = log_spec(RECORDS, LOG_WRITES);
    let names = Names::new(&log.writers);
    let start = fieldmerge_replica(&names, &log.start, "phone");
    let batches = fieldmerge_log(&names, &log);
    let naive_start = naive_replica(&log.writers, &log.start);
    let crdts_start = crdts_replica(&log.writers, &log.start);
    let nlog = naive_log(&log);

    let mut g = c.benchmark_group("apply_log");
    g.throughput(Throughput::Elements(LOG_WRITES as u64));
    g.sample_size(10);
    g.bench_function("fieldmerge", |b| {
        b.iter_batched_ref(
            || start.clone(),
            |r| {
                let mut conflicts = 0;
                for batch in &batches {
                    conflicts += r.apply(batch, Delivery::Live).conflicts.len();
                }
                conflicts
            },
            BatchSize::LargeInput,
        )
    });
    g.bench_function("naive", |b| {
        b.iter_batched_ref(
            || naive_start.clone(),
            |r| naive_apply(r, &nlog),
            BatchSize::LargeInput,
        )
    });
    g.bench_function("crdts", |b| {
        b.iter_batched_ref(
            || crdts_start.clone(),
            |r| crdts_apply(r, &nlog),
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

fn local_write(c: &mut Criterion) {
    const WRITES: usize = 10_000;
    let spec = state_merge_spec(RECORDS);
    let names = Names::new(&spec.writers);
    let start = fieldmerge_replica(&names, &spec.a, "phone");
    let naive_start = naive_replica(&spec.writers, &spec.a);
    let crdts_start = crdts_replica(&spec.writers, &spec.a);
    let patches = local_patches(RECORDS, WRITES);

    let mut g = c.benchmark_group("local_write");
    g.throughput(Throughput::Elements(WRITES as u64));
    g.bench_function("fieldmerge", |b| {
        b.iter_batched_ref(
            || start.clone(),
            |r| fieldmerge_local_writes(r, &patches),
            BatchSize::LargeInput,
        )
    });
    g.bench_function("naive", |b| {
        b.iter_batched_ref(
            || naive_start.clone(),
            |r| naive_local_writes(r, "phone", &patches),
            BatchSize::LargeInput,
        )
    });
    g.bench_function("crdts", |b| {
        b.iter_batched_ref(
            || crdts_start.clone(),
            |r| crdts_local_writes(r, "phone", &patches),
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

fn derive(c: &mut Criterion) {
    let spec = state_merge_spec(RECORDS);
    let names = Names::new(&spec.writers);
    let replica = fieldmerge_replica(&names, &spec.a, "phone");
    let rows: Vec<serde_json::Value> = replica
        .records()
        .iter()
        .map(|(key, record)| legacy_row(&record_to_json(key, record)))
        .collect();

    let mut g = c.benchmark_group("derive_updated_at");
    g.throughput(Throughput::Elements(RECORDS as u64));
    g.bench_function("fieldmerge_row", |b| {
        b.iter(|| rows.iter().filter_map(derive_updated_at).max())
    });
    g.bench_function("fieldmerge_record", |b| {
        b.iter(|| {
            replica
                .records()
                .values()
                .filter_map(|r| r.derive_updated_at())
                .max()
        })
    });
    g.finish();
}

// A stored row in the shape of the replaced system: the values plus a
// `__fieldMeta` map of `{at, origin}` per field (SPEC R7.2).
fn legacy_row(record: &serde_json::Value) -> serde_json::Value {
    let mut row = serde_json::Map::new();
    let mut meta = serde_json::Map::new();
    if let Some(fields) = record.get("fields").and_then(|f| f.as_object()) {
        for (name, reg) in fields {
            row.insert(name.clone(), reg["value"].clone());
            meta.insert(
                name.clone(),
                serde_json::json!({"at": reg["at"], "origin": reg["origin"]}),
            );
        }
    }
    row.insert("__fieldMeta".into(), serde_json::Value::Object(meta));
    serde_json::Value::Object(row)
}

fn wire(c: &mut Criterion) {
    const CHANGES: usize = 1_000;
    let log = log_spec(RECORDS, 100_000);
    let names = Names::new(&log.writers);
    let changes: Vec<_> = fieldmerge_log(&names, &log)
        .into_iter()
        .flatten()
        .take(CHANGES)
        .collect();
    let fields: usize = changes.iter().map(|c| c.writes().count()).sum();
    let value = encode_changes(&changes);
    let bytes = serde_json::to_vec(&value).expect("serialize");

    let mut g = c.benchmark_group("wire");
    g.throughput(Throughput::Elements(fields as u64));
    g.bench_function("decode", |b| {
        b.iter(|| decode_changes(black_box(&bytes)).expect("valid"))
    });
    g.bench_function("serde_json_parse", |b| {
        b.iter(|| serde_json::from_slice::<serde_json::Value>(black_box(&bytes)).expect("json"))
    });
    g.bench_function("encode", |b| {
        b.iter(|| serde_json::to_vec(&encode_changes(black_box(&changes))).expect("json"))
    });
    g.bench_function("serde_json_write", |b| {
        b.iter(|| serde_json::to_vec(black_box(&value)).expect("json"))
    });
    g.finish();
}

fn sim(c: &mut Criterion) {
    // One default simulator run (2 users x 2 devices, every scenario and
    // fault, 300 chaos steps, then heal and the oracle's checks); its
    // throughput is the events the run executed, heal included.
    let config = fieldmerge_harness::sim::Config::default();
    let events = fieldmerge_harness::sim::run(1, &config).stats.events;
    let mut g = c.benchmark_group("sim");
    g.throughput(Throughput::Elements(events));
    g.bench_function("run", |b| {
        b.iter(|| {
            fieldmerge_harness::sim::run(black_box(1), &config)
                .stats
                .events
        })
    });
    g.finish();
}

/// The rows of the summary: `(group, fieldmerge function, [peer functions])`.
const SUMMARY: &[(&str, &str, &[&str])] = &[
    (
        "state_merge",
        "fieldmerge",
        &["fieldmerge_records", "naive", "crdts", "automerge"],
    ),
    ("apply_log", "fieldmerge", &["naive", "crdts"]),
    ("local_write", "fieldmerge", &["naive", "crdts"]),
    (
        "derive_updated_at",
        "fieldmerge_record",
        &["fieldmerge_row"],
    ),
    ("wire", "decode", &["serde_json_parse"]),
    ("wire", "encode", &["serde_json_write"]),
    ("sim", "run", &[]),
];

fn output_directory() -> PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return PathBuf::from(home);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    target.join("criterion")
}

/// `(median ns per iteration, elements per iteration)` of one benchmark, from
/// the files criterion wrote in this run.
fn median(dir: &Path, group: &str, function: &str, since: SystemTime) -> Option<(f64, f64)> {
    let read = |file: &str| -> Option<serde_json::Value> {
        let path = dir.join(group).join(function).join("new").join(file);
        // Only what this run measured: a filtered-out benchmark keeps the
        // files of an earlier run.
        if std::fs::metadata(&path).ok()?.modified().ok()? < since {
            return None;
        }
        serde_json::from_slice(&std::fs::read(path).ok()?).ok()
    };
    let ns = read("estimates.json")?["median"]["point_estimate"].as_f64()?;
    let elements = read("benchmark.json")?["throughput"]["Elements"].as_f64()?;
    Some((ns, elements))
}

fn print_summary(dir: &Path, since: SystemTime) {
    println!("\n== fieldmerge vs peers: medians of this run ==");
    println!(
        "{:<18} {:<19} {:>12} {:>12} {:>9}",
        "workload", "implementation", "median ms", "M elem/s", "ratio"
    );
    for (group, ours, peers) in SUMMARY {
        let Some((base_ns, elements)) = median(dir, group, ours, since) else {
            continue;
        };
        let row = |name: &str, ns: f64| {
            println!(
                "{:<18} {:<19} {:>12.3} {:>12.2} {:>8.2}x",
                group,
                name,
                ns / 1e6,
                elements / ns * 1e3,
                ns / base_ns
            );
        };
        row(ours, base_ns);
        for peer in *peers {
            if let Some((ns, _)) = median(dir, group, peer, since) {
                row(peer, ns);
            }
        }
    }
    println!("(ratio: the implementation's median time over fieldmerge's; above 1 is slower than fieldmerge)");
}

fn main() {
    let since = SystemTime::now();
    let dir = output_directory();
    let mut c = Criterion::default()
        .output_directory(&dir)
        .configure_from_args();
    state_merge(&mut c);
    apply_log(&mut c);
    local_write(&mut c);
    derive(&mut c);
    wire(&mut c);
    sim(&mut c);
    c.final_summary();
    print_summary(&dir, since);
}
