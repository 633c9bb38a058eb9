//! Hydration of a fresh device over JSON pages (issue #13): the server
//! encodes each page of 1,000 changes as text, the device reads it
//! (`Page::from_json`) and applies it. Printed per size, as the growth
//! series of the issue: records x 10 fields, the time of each phase, fields
//! per second, and the per-field cost against the smallest size. A naive
//! peer (serde_json `Value` parse plus a `HashMap` LWW) reads the same bytes.
//!
//! `cargo run --release --manifest-path benches/Cargo.toml --bin hydration [-- SIZES]`
//! (SIZES: comma-separated record counts, default 10000,100000).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use fieldmerge::{Actor, Page, RecordKey, Replica, Server, ServerConfig, Timestamp, WriterId};
use serde_json::{json, Map, Value};

const FIELDS: usize = 10;
const PAGE: usize = 1000;

fn t(ms: i64) -> Timestamp {
    Timestamp::from_ms(1_777_197_600_000 + ms).unwrap_or(Timestamp::GENESIS)
}

/// A server whose log holds `n` inserts of `FIELDS` fields, pushed by one
/// writer in pushes of `PAGE` changes.
fn server_with(n: usize) -> Server {
    let mut server = Server::new(ServerConfig::default());
    let mut writer = Replica::new(WriterId::new("writer"));
    let mut patch = Map::new();
    for f in 0..FIELDS {
        patch.insert(format!("field{f}"), json!(format!("value {f} of a record")));
    }
    for i in 0..n {
        let key = RecordKey::new("tasks", &format!("task-{i:08}"));
        let _ = writer.write(&key, &Actor::User, &patch, t(i as i64));
        if writer.outbox().len() == PAGE || i + 1 == n {
            let reply = server.push(&writer.push(), t(n as i64)).expect("accepted");
            writer.ack(reply.acked_through);
        }
    }
    server
}

struct Run {
    encode: Duration,
    decode: Duration,
    apply: Duration,
    bytes: usize,
    naive: Duration,
}

fn hydrate(server: &Server) -> Run {
    let (mut encode, mut decode, mut apply, mut naive) = Default::default();
    let mut bytes = 0;
    let mut device = Replica::new(WriterId::new("device"));
    let mut peer: HashMap<(String, String), HashMap<String, (Value, String)>> = HashMap::new();
    let mut cursor = 0;
    while cursor < server.head() {
        let start = Instant::now();
        let text = server.pull(cursor, PAGE).to_text();
        encode += start.elapsed();
        bytes += text.len();
        let start = Instant::now();
        let page = Page::from_json(text.as_bytes()).expect("a page");
        decode += start.elapsed();
        let start = Instant::now();
        device.apply_page(&page).expect("at the cursor");
        apply += start.elapsed();
        cursor = device.cursor().unwrap_or(0);
        // The naive peer: what anyone writes first.
        let start = Instant::now();
        let value: Value = serde_json::from_str(&text).expect("JSON");
        for c in value["changes"].as_array().into_iter().flatten() {
            let key = (
                c["table"].as_str().unwrap_or("").to_owned(),
                c["id"].as_str().unwrap_or("").to_owned(),
            );
            let record = peer.entry(key).or_default();
            for (name, v) in c["data"].as_object().into_iter().flatten() {
                let at = c["field_meta"][name]["at"]
                    .as_str()
                    .unwrap_or("")
                    .to_owned();
                if record.get(name).is_none_or(|(_, old)| *old < at) {
                    record.insert(name.clone(), (v.clone(), at));
                }
            }
        }
        naive += start.elapsed();
    }
    assert_eq!(device.records().len(), peer.len());
    Run {
        encode,
        decode,
        apply,
        bytes,
        naive,
    }
}

fn main() {
    let sizes: Vec<usize> = std::env::args()
        .nth(1)
        .map(|s| s.split(',').filter_map(|n| n.parse().ok()).collect())
        .unwrap_or_else(|| vec![10_000, 100_000]);
    println!("| records | fields | MB | encode | decode | apply | decode + apply | M fields/s | ns/field | x smallest | naive | fieldmerge/naive |");
    println!(
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    );
    let mut first = None;
    for n in sizes {
        let server = server_with(n);
        let run = hydrate(&server);
        let fields = (n * FIELDS) as f64;
        let device = run.decode + run.apply;
        let ns = device.as_nanos() as f64 / fields;
        let base = *first.get_or_insert(ns);
        println!(
            "| {n} | {} | {:.1} | {:.0?} | {:.0?} | {:.0?} | {:.0?} | {:.2} | {ns:.0} | {:.2} | {:.0?} | {:.2}x |",
            n * FIELDS,
            run.bytes as f64 / 1e6,
            run.encode,
            run.decode,
            run.apply,
            device,
            fields / device.as_secs_f64() / 1e6,
            ns / base,
            run.naive,
            run.naive.as_secs_f64() / device.as_secs_f64(),
        );
    }
}
