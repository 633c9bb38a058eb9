//! Server push from JSON bytes (issue #13): a writer's pushes of 1,000
//! changes of 10 fields, as text; the server reads each (`Push::from_json`)
//! and takes it (`Server::push`: validate, dedupe, append, merge). Printed
//! as the log grows: fields per second over each tenth of the run, so a
//! cost that grows with the log shows.
//!
//! `cargo run --release --manifest-path benches/Cargo.toml --bin push [-- CHANGES]`
//! (CHANGES: the log's final size, default 1,000,000 changes).

use std::time::{Duration, Instant};

use fieldmerge::{Actor, Push, RecordKey, Replica, Server, ServerConfig, Timestamp, WriterId};
use serde_json::{json, Map};

const FIELDS: usize = 10;
const BATCH: usize = 1000;

fn t(ms: i64) -> Timestamp {
    Timestamp::from_ms(1_777_197_600_000 + ms).unwrap_or(Timestamp::GENESIS)
}

fn main() {
    let total: usize = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000_000);
    let mut patch = Map::new();
    for f in 0..FIELDS {
        patch.insert(format!("field{f}"), json!(format!("value {f} of a record")));
    }
    let mut writer = Replica::new(WriterId::new("writer"));
    let mut server = Server::new(ServerConfig::default());
    let tenth = (total / 10).max(BATCH);
    let (mut spent, mut fields, mut read) = (Duration::ZERO, 0usize, Duration::ZERO);
    println!("| log (changes) | M fields/s (read + push) | of which reading |");
    println!("| ---: | ---: | ---: |");
    for i in 0..total {
        let key = RecordKey::new("tasks", &format!("task-{i:08}"));
        let _ = writer.write(&key, &Actor::User, &patch, t(i as i64));
        if writer.outbox().len() < BATCH && i + 1 < total {
            continue;
        }
        let text = writer.push().to_text();
        let start = Instant::now();
        let push = Push::from_json(text.as_bytes()).expect("a push");
        let parsed = start.elapsed();
        let reply = server.push(&push, t(total as i64)).expect("accepted");
        spent += start.elapsed();
        read += parsed;
        fields += push.changes.len() * FIELDS;
        writer.ack(reply.acked_through);
        if (i + 1) % tenth == 0 || i + 1 == total {
            println!(
                "| {} | {:.2} | {:.0}% |",
                server.head(),
                fields as f64 / spent.as_secs_f64() / 1e6,
                100.0 * read.as_secs_f64() / spent.as_secs_f64()
            );
            (spent, fields, read) = (Duration::ZERO, 0, Duration::ZERO);
        }
    }
}
