//! Hydration of a fresh replica over JSON pages, natively, through the same
//! JSON-text layer the bindings call (`fieldmerge-json`): the native side of
//! the WebAssembly package's benchmark (`bindings/js/bench/bench.mjs`),
//! which writes the pages and compares.
//!
//! Usage: cargo run --release -p fieldmerge-json --example hydration -- <dir with page-000.json, ...> [runs]
//! Prints one line per run, `ms <total>`, then `median_ms <m>`.

use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = args.next().unwrap_or_else(|| {
        eprintln!("usage: hydration <pages dir> [runs]");
        std::process::exit(2)
    });
    let runs: usize = args.next().and_then(|r| r.parse().ok()).unwrap_or(5);
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| {
            eprintln!("{dir}: {e}");
            std::process::exit(2)
        })
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    let pages: Vec<Vec<u8>> = paths
        .iter()
        .map(|p| std::fs::read(p).unwrap_or_default())
        .collect();
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let mut replica = fieldmerge_json::JsonReplica::new("bench-device").unwrap_or_else(|e| {
            eprintln!("{}", e.text);
            std::process::exit(1)
        });
        let start = Instant::now();
        for page in &pages {
            if let Err(e) = replica.apply_page(page) {
                eprintln!("page refused: {}", e.text);
                std::process::exit(1);
            }
        }
        let ms = start.elapsed().as_secs_f64() * 1000.0;
        println!("ms {ms:.1}");
        times.push(ms);
    }
    times.sort_by(f64::total_cmp);
    println!("median_ms {:.1}", times[times.len() / 2]);
}
