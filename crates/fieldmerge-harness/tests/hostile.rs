//! Hostile input at every boundary (issue #11): pages, pushes, batches,
//! configurations, stored states and clock corrections, valid texts mutated
//! at random and counters at the ends of their ranges, fed to the kernel in
//! the build `cargo test` makes (debug: overflow checks and
//! `debug_assert!`s on). Nothing may panic, and every refusal leaves the
//! replica or the server exactly as it was (SPEC R6.5, R11.5, R12.1, R12.5).
//!
//! Each property runs under proptest (256 cases; CI runs them again with
//! 2,048 in release), and every replica operation goes through one `check`
//! helper.

use arbitrary::Unstructured;
use fieldmerge::{
    canonical_json, decode_changes, read_form, ClockCorrection, Page, Push, PushReply, Replica,
    ReplicaState, Server, ServerConfig, Timestamp,
};
use fieldmerge_harness::gen::{actor, delivery, patch, record_key, replica, timestamp, value};
use proptest::prelude::*;

/// Counters and stamps at the ends of their ranges, as text.
const EDGES: [&str; 8] = [
    "0",
    "9007199254740991",
    "9007199254740992",
    "18446744073709551615",
    "-1",
    "1e308",
    "\"9999-12-31T23:59:59.999Z\"",
    "\"1970-01-01T00:00:00.000Z\"",
];

/// `text` with a few bytes replaced, a range cut out, or a number swapped
/// for one at the end of its range.
fn mutate(u: &mut Unstructured, mut text: Vec<u8>) -> arbitrary::Result<Vec<u8>> {
    for _ in 0..u.int_in_range(0u8..=3)? {
        if text.is_empty() {
            break;
        }
        match u.int_in_range(0u8..=3)? {
            0 => {
                let i = u.choose_index(text.len())?;
                text[i] = *u.choose(b"{}[]\",:0123456789.e-tnul \\az\x80\xff")?;
            }
            1 => {
                let i = u.choose_index(text.len())?;
                let j = u.int_in_range(i..=text.len())?;
                text.drain(i..j);
            }
            2 => {
                // A digit run becomes a counter or stamp at an edge.
                let i = u.choose_index(text.len())?;
                if let Some(start) = (i..text.len()).find(|&k| text[k].is_ascii_digit()) {
                    let end = (start..text.len())
                        .find(|&k| !text[k].is_ascii_digit())
                        .unwrap_or(text.len());
                    let edge = u.choose(&EDGES)?.as_bytes();
                    text.splice(start..end, edge.iter().copied());
                }
            }
            _ => {
                let i = u.int_in_range(0..=text.len())?;
                text.splice(i..i, u.choose(&EDGES)?.bytes());
            }
        }
    }
    Ok(text)
}

/// A server with a little history, its log sometimes named.
fn server(u: &mut Unstructured) -> arbitrary::Result<Server> {
    let mut server = Server::new(ServerConfig::default());
    let mut r = replica(u)?;
    for _ in 0..u.int_in_range(0u8..=4)? {
        let _ = r.write(&record_key(u)?, &actor(u)?, &patch(u)?, timestamp(u)?);
    }
    let _ = server.push(&r.push(), timestamp(u)?);
    if u.arbitrary()? {
        server = server.with_log_name("main").expect("a name");
    }
    Ok(server)
}

/// Runs `op` on a copy of `before`; a refusal must leave it as it was.
fn check<T, E: std::fmt::Debug>(before: &Replica, op: impl FnOnce(&mut Replica) -> Result<T, E>) {
    let mut r = before.clone();
    if let Err(e) = op(&mut r) {
        assert_eq!(&r, before, "a refusal ({e:?}) changed the replica");
    }
}

fn hostile_page(u: &mut Unstructured) -> arbitrary::Result<()> {
    let server = server(u)?;
    let r = replica(u)?;
    let page = server.pull(
        u.int_in_range(0..=server.head())?,
        u.int_in_range(0usize..=8)?,
    );
    let text = mutate(u, page.to_text().into_bytes())?;
    if let Ok(page) = Page::from_json(&text) {
        check(&r, |r| r.apply_page(&page));
        let reply = PushReply {
            acked_through: u.arbitrary()?,
            appended: 0,
            page,
            report: fieldmerge::ApplyReport::default(),
        };
        check(&r, |r| r.receive_reply(&reply));
    }
    Ok(())
}

fn hostile_push(u: &mut Unstructured) -> arbitrary::Result<()> {
    let mut server = server(u)?;
    let push = replica(u)?.push().to_text().into_bytes();
    let text = mutate(u, push)?;
    if let Ok(push) = Push::from_json(&text) {
        let before = server.clone();
        if server.push(&push, timestamp(u)?).is_err() {
            // A refusal stores at most the client's raised clock epoch.
            assert_eq!(server.log(), before.log());
            assert_eq!(server.records(), before.records());
        }
    }
    Ok(())
}

fn hostile_batch(u: &mut Unstructured) -> arbitrary::Result<()> {
    let r = replica(u)?;
    let batch = replica(u)?.push().to_text();
    let text = mutate(u, batch.into_bytes())?;
    // The push's `changes` array, or the whole mutated text.
    let list = serde_json::from_slice::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| v.get("changes").map(|c| c.to_string().into_bytes()))
        .unwrap_or(text);
    if let Ok(changes) = decode_changes(&list) {
        let mut r = r;
        r.apply(&changes, delivery(u)?);
    }
    Ok(())
}

fn hostile_config(u: &mut Unstructured) -> arbitrary::Result<()> {
    let text = mutate(u, br#"{"skew_ms_max":60000,"page_size_max":1000}"#.to_vec())?;
    if let Ok(config) = read_form::<ServerConfig>(&text) {
        // A configuration that reads is valid by construction (R12.2).
        assert!(config.skew_ms_max() >= 0 && config.page_size_max() >= 1);
        let server = Server::new(config);
        let page = server.pull(u.arbitrary()?, u.arbitrary()?);
        assert!(!page.has_more() || page.after < page.head);
    }
    Ok(())
}

fn hostile_state(u: &mut Unstructured) -> arbitrary::Result<()> {
    let server = server(u)?;
    let mut r = replica(u)?;
    let _ = r.apply_page(&server.pull(0, 8));
    let state = serde_json::to_vec(&ReplicaState::of(&r)).expect("serializes");
    let text = mutate(u, state)?;
    let Ok(loaded) = ReplicaState::load_json(&text) else {
        return Ok(());
    };
    // A state that loads can write, push, correct its clock and merge.
    let (key, who, p, now) = (record_key(u)?, actor(u)?, patch(u)?, timestamp(u)?);
    check(&loaded, |r| r.write(&key, &who, &p, now));
    let correction = ClockCorrection {
        server_now: timestamp(u)?,
        skew_ms_max: *u.choose(&[0, 60_000, i64::MAX])?,
        log_high: *u.choose(&[Timestamp::GENESIS, Timestamp::MAX])?,
        clock_epoch: *u.choose(&[0, 1, u64::MAX])?,
    };
    let now = timestamp(u)?;
    check(&loaded, |r| r.correct_clock(&correction, now));
    let mut merged = loaded.clone();
    merged.merge(&replica(u)?);
    let _ = Server::new(ServerConfig::default()).push(&loaded.push(), timestamp(u)?);
    let _ = value(u)?;
    Ok(())
}

/// A stored state is written straight from the replica as the canonical text
/// of its form (R11.4, R12.5), and read record by record it loads exactly
/// what the whole text loads, mutated or not.
fn state_text(u: &mut Unstructured) -> arbitrary::Result<()> {
    let server = server(u)?;
    let mut r = replica(u)?;
    let _ = r.apply_page(&server.pull(0, 8));
    let text = ReplicaState::text_of(&r);
    let form = serde_json::to_value(ReplicaState::of(&r)).expect("serializes");
    assert_eq!(text, canonical_json(&form));
    let text = if u.arbitrary()? {
        mutate(u, text.into_bytes())?
    } else {
        text.into_bytes()
    };
    let whole = read_form::<ReplicaState>(&text).ok().map(|s| s.load());
    match (whole, ReplicaState::load_json(&text)) {
        (Some(Ok(a)), Ok(b)) => assert_eq!(ReplicaState::of(&a), ReplicaState::of(&b)),
        (Some(Ok(_)), Err(e)) => panic!("the whole text loads, record by record: {e}"),
        (_, Ok(_)) => panic!("loaded record by record what the whole text refuses"),
        _ => {}
    }
    Ok(())
}

fn run(bytes: &[u8], law: fn(&mut Unstructured) -> arbitrary::Result<()>) {
    let _ = law(&mut Unstructured::new(bytes));
}

macro_rules! hostile {
    ($($name:ident => $law:ident;)*) => {
        $(
            proptest! {
                #![proptest_config(ProptestConfig::default())]
                #[test]
                fn $name(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
                    run(&bytes, $law);
                }
            }
        )*
    };
}

hostile! {
    r6_5_r12_6_hostile_pages_never_panic_and_a_refused_page_changes_nothing => hostile_page;
    r12_1_hostile_pushes_never_panic_and_a_refused_push_appends_nothing => hostile_push;
    r11_5_hostile_batches_never_panic => hostile_batch;
    r12_2_hostile_configs_never_panic_and_one_that_reads_is_valid => hostile_config;
    r12_5_hostile_states_never_panic_and_one_that_loads_can_sync => hostile_state;
    r12_5_a_state_is_written_canonically_and_loads_record_by_record_as_whole => state_text;
}
