//! Laws as properties (issue #3): every law is a plain function over an
//! `Unstructured`, drawing its inputs from the shared generators of
//! `fieldmerge_harness::gen`, and runs twice: through proptest (module
//! `prop`, failures persisted in `proptest-regressions/laws.txt`) and
//! through quickcheck's own generator and shrinker (module `qc`), so the two
//! tools cross-check each other. Each law is named after the rule it pins.

use std::cmp::Ordering;

use arbitrary::Unstructured;
use fieldmerge::{
    cmp_values, decide, decode_change_values, decode_changes, derive_updated_at, encode_changes,
    values_equal, Base, Change, ConflictRule, Decision, Delivery, Origin, Page, Push, Record,
    RecordKey, Register, Replica, ReplicaState, Server, ServerConfig, Silence, Timestamp, WriterId,
    SYSTEM_BOOTSTRAP, TOMBSTONE_FIELD,
};
use fieldmerge_harness::gen::{
    actions, actor, bad_patch, change, changes, client_id, delivery, patch, record, record_key,
    register, register_pair, replica, singleton_fields, singleton_key, timestamp, tombstone_value,
    value, wire_batch, writer_id,
};
use proptest::test_runner::{Config as ProptestConfig, FileFailurePersistence};
use quickcheck::{Gen, QuickCheck};
use serde_json::{json, Map, Value};

use fieldmerge_harness::world::World;

type Law = fn(&mut Unstructured) -> arbitrary::Result<()>;

/// Runs a law on bytes. A generator that runs out of input yields an
/// error, which discards the case.
fn run(bytes: &[u8], law: Law) {
    let mut u = Unstructured::new(bytes);
    let _ = law(&mut u);
}

fn config() -> ProptestConfig {
    ProptestConfig {
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "proptest-regressions/laws.txt",
        ))),
        ..ProptestConfig::default()
    }
}

fn bytes() -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
    proptest::collection::vec(proptest::arbitrary::any::<u8>(), 0..4096)
}

/// quickcheck's input: bytes from quickcheck's generator, shrunk by its
/// shrinker, fed to the same generators as proptest's.
#[derive(Clone, Debug)]
pub struct Bytes(pub Vec<u8>);

impl quickcheck::Arbitrary for Bytes {
    fn arbitrary(g: &mut Gen) -> Bytes {
        Bytes(Vec::<u8>::arbitrary(g))
    }

    fn shrink(&self) -> Box<dyn Iterator<Item = Bytes>> {
        Box::new(self.0.shrink().map(Bytes))
    }
}

fn quickcheck(prop: fn(Bytes)) {
    QuickCheck::new()
        .rng(Gen::new(4096))
        .tests(64)
        .quickcheck(prop);
}

macro_rules! laws {
    ($($(#[doc = $doc:literal])* fn $name:ident($u:ident) $body:block)*) => {
        $(
            $(#[doc = $doc])*
            pub fn $name($u: &mut Unstructured) -> arbitrary::Result<()> $body
        )*

        /// Every law through proptest.
        mod prop {
            use super::*;
            proptest::proptest! {
                #![proptest_config(config())]
                $( #[test] fn $name(bytes in bytes()) { run(&bytes, super::$name); } )*
            }
        }

        /// Every law through quickcheck.
        mod qc {
            $(
                #[test]
                fn $name() {
                    fn prop(bytes: super::Bytes) {
                        super::run(&bytes.0, super::$name);
                    }
                    super::quickcheck(prop);
                }
            )*
        }
    };
}

/// The canonical text of a value (R11.4): `1` and `1.0`, `-0.0` and `0`
/// are one text, object keys are sorted. Equality of this text is R4.4
/// equality, and it is computed without the kernel's order.
fn text(v: &Value) -> String {
    fieldmerge::canonical_json(v)
}

/// Bit-for-bit equality through the `Debug` form, which spells `-0.0` and
/// `0.0` apart. The derived `PartialEq` of the kernel's types compares JSON
/// numbers as `serde_json` does (`-0.0 == 0.0`), which is not R4.4 identity,
/// so the laws compare with this instead.
fn same<T: std::fmt::Debug>(a: &T, b: &T) -> bool {
    format!("{a:?}") == format!("{b:?}")
}

macro_rules! assert_same {
    ($a:expr, $b:expr $(,)?) => {
        match (&$a, &$b) {
            (a, b) => assert!(same(a, b), "not the same:\n{a:#?}\n{b:#?}"),
        }
    };
}

/// An owned copy of a set of records, to compare with one built by hand.
fn owned(records: fieldmerge::Records<'_>) -> std::collections::BTreeMap<RecordKey, Record> {
    records
        .iter()
        .map(|(k, r)| (k.clone(), r.clone()))
        .collect()
}

fn state(r: &Replica) -> String {
    serde_json::to_string(&ReplicaState::of(r)).unwrap_or_default()
}

/// The replica once the server has acknowledged all its pending writes.
fn acknowledged(mut r: Replica) -> Replica {
    r.ack(Some(r.next_seq()));
    r
}

/// A server with a little history: agent writes and a bootstrap row.
fn server_with_history(u: &mut Unstructured) -> arbitrary::Result<Server> {
    let mut server = Server::new(ServerConfig::new(60_000, 4).expect("valid"));
    for _ in 0..u.int_in_range(0u8..=5)? {
        let mut p = patch(u)?;
        if u.ratio(1u8, 3)? {
            p.insert(TOMBSTONE_FIELD.into(), tombstone_value(u)?);
        }
        let key = if u.arbitrary()? {
            RecordKey::new("tasks", "t1")
        } else {
            record_key(u)?
        };
        let _ = server.write(&writer_id(u)?, &actor(u)?, &key, &p, timestamp(u)?);
    }
    if u.arbitrary()? {
        let _ = server.bootstrap(&singleton_key(u)?, &singleton_fields(u)?);
    }
    Ok(server)
}

fn check_shadow_index(r: &Record, where_: &str) {
    assert_eq!(
        r.updated_at_index(),
        r.derive_updated_at(),
        "R8.1 at {where_}: {r:?}"
    );
    assert_eq!(
        r.derive_updated_at(),
        r.fields().map(|(_, reg)| reg.at).max(),
        "R7.1 at {where_}"
    );
}

laws! {
    /// Of two registers with different versions, the greater `(at, by)`
    /// wins, `by` compared as bytes (the empty writer id first), whatever
    /// the values, origins and bases.
    fn r4_1_r4_2_the_greater_version_wins(u) {
        let (a, mut b) = register_pair(u)?;
        if u.arbitrary()? {
            b.at = a.at;
        }
        let key = |r: &Register| (r.at, r.by.as_str().as_bytes().to_vec());
        if key(&a) == key(&b) {
            return Ok(());
        }
        let expected = if key(&a) > key(&b) { a.clone() } else { b.clone() };
        assert_eq!(a.clone().merge(b.clone()), expected);
        assert_eq!(a.version().cmp(&b.version()), key(&a).cmp(&key(&b)));
        assert_eq!(a.cmp_version(&b), key(&a).cmp(&key(&b)));
        Ok(())
    }

    /// The register order is total: antisymmetric, transitive, and equal
    /// only for identical registers, malformed twins included.
    fn r4_3_register_order_is_total(u) {
        let (a, b) = register_pair(u)?;
        let c = register(u)?;
        assert_eq!(a.cmp_total(&b), b.cmp_total(&a).reverse());
        assert_eq!(a.cmp_total(&b) == Ordering::Equal, same(&a, &b), "{a:?} {b:?}");
        for (x, y, z) in [(&a, &b, &c), (&b, &c, &a), (&c, &a, &b)] {
            if x.cmp_total(y) != Ordering::Greater && y.cmp_total(z) != Ordering::Greater {
                assert_ne!(x.cmp_total(z), Ordering::Greater, "{x:?} {y:?} {z:?}");
            }
        }
        Ok(())
    }

    /// Every binary64 reads back bit for bit from its canonical text, and
    /// from Rust's shortest spelling; one more digit that changes the
    /// decimal's value is refused (R4.4, R11.4, R11.7).
    fn r4_4_every_binary64_reads_back_from_its_shortest_decimal(u) {
        let x = f64::from_bits(u.arbitrary::<u64>()?);
        if x.is_finite() {
            let value = json!(x);
            let text = fieldmerge::canonical_json(&value);
            let back = fieldmerge::read_json(text.as_bytes()).unwrap_or_else(|e| panic!("{text}: {e}"));
            let y = back.as_f64().unwrap_or(f64::NAN);
            assert!(y == x, "{x:e} wrote {text}, read {y:e}");
            assert_eq!(fieldmerge::canonical_json(&back), text);
            let rust = format!("{x:e}");
            assert_eq!(fieldmerge::read_json(rust.as_bytes()).map(|v| v.as_f64()).ok().flatten(), Some(x), "{rust}");
            if x != 0.0 && !text.contains('e') && text.contains('.') {
                // A 1 appended to the fraction: still reads to x, but is no
                // shortest decimal of it.
                let longer = format!("{text}1");
                if longer.parse::<f64>().ok() == Some(x) {
                    let err = fieldmerge::read_json(longer.as_bytes()).unwrap_err();
                    assert_eq!(err.kind.code(), "bad_number", "{longer}");
                }
            }
        }
        Ok(())
    }

    /// Ties (R4.4, R11.4): a binary64 N + .25 or N + .75 with N in
    /// [2^50, 2^51) lies exactly halfway between two 17-digit decimals
    /// (N.2 and N.3, N.7 and N.8). Both read to it, the exact 18-digit
    /// decimal does not (it is longer than the shortest), and the canonical
    /// text is the even one, as ECMAScript writes it.
    fn r4_4_a_tie_reads_from_either_decimal_and_writes_the_even_one(u) {
        let whole = u.int_in_range((1u64 << 50)..=(1u64 << 51) - 1)?;
        let quarter = *u.choose(&[(25u32, ("2", "3"), "2"), (75, ("7", "8"), "8")])?;
        let negative = u.arbitrary::<bool>()?;
        let sign = if negative { "-" } else { "" };
        let x = (whole as f64 + f64::from(quarter.0) / 100.0) * if negative { -1.0 } else { 1.0 };
        let read = |text: String| fieldmerge::read_json(text.as_bytes()).map(|v| v.as_f64());
        for digit in [quarter.1 .0, quarter.1 .1] {
            assert_eq!(read(format!("{sign}{whole}.{digit}")), Ok(Some(x)), "{whole}.{digit}");
        }
        let exact = format!("{sign}{whole}.{}", quarter.0);
        assert_eq!(read(exact.clone()).unwrap_err().kind.code(), "bad_number", "{exact}");
        assert_eq!(fieldmerge::canonical_json(&json!(x)), format!("{sign}{whole}.{}", quarter.2));
        Ok(())
    }

    /// The value order is total, and two values are equal exactly when
    /// their canonical texts are (`1` is `1.0`, `-0.0` is `0`).
    fn r4_4_value_order_is_total_and_equality_is_exact(u) {
        let (a, b, c) = (value(u)?, value(u)?, value(u)?);
        for (x, y) in [(&a, &b), (&b, &c), (&a, &c), (&a, &a)] {
            assert_eq!(cmp_values(x, y), cmp_values(y, x).reverse(), "{x} {y}");
            assert_eq!(values_equal(x, y), text(x) == text(y), "{x} {y}");
        }
        for (x, y, z) in [(&a, &b, &c), (&b, &c, &a), (&c, &a, &b)] {
            if cmp_values(x, y) != Ordering::Greater && cmp_values(y, z) != Ordering::Greater {
                assert_ne!(cmp_values(x, z), Ordering::Greater, "{x} {y} {z}");
            }
        }
        Ok(())
    }

    /// Register merge is commutative.
    fn r4_5_register_merge_is_commutative(u) {
        let (a, b) = register_pair(u)?;
        assert_same!(a.clone().merge(b.clone()), b.merge(a));
        Ok(())
    }

    /// Register merge is associative.
    fn r4_5_register_merge_is_associative(u) {
        let (a, b) = register_pair(u)?;
        let c = if u.arbitrary()? { fieldmerge_harness::gen::twin(u, &b)? } else { register(u)? };
        assert_same!(a.clone().merge(b.clone()).merge(c.clone()), a.merge(b.merge(c)));
        Ok(())
    }

    /// Register merge is idempotent, and keeps one of its inputs.
    fn r4_5_register_merge_is_idempotent_and_picks_an_input(u) {
        let (a, b) = register_pair(u)?;
        assert_same!(a.clone().merge(a.clone()), a);
        let m = a.clone().merge(b.clone());
        assert!(same(&m, &a) || same(&m, &b));
        assert_ne!(m.cmp_total(&a), Ordering::Less);
        assert_ne!(m.cmp_total(&b), Ordering::Less);
        Ok(())
    }

    /// Record merge is commutative (registers and shadow index).
    fn r4_5_record_merge_is_commutative(u) {
        let (a, b) = (record(u)?, record(u)?);
        let (mut ab, mut ba) = (a.clone(), b.clone());
        ab.merge(&b);
        ba.merge(&a);
        assert_same!(ab, ba);
        check_shadow_index(&ab, "record merge");
        Ok(())
    }

    /// Record merge is associative.
    fn r4_5_record_merge_is_associative(u) {
        let (a, b, c) = (record(u)?, record(u)?, record(u)?);
        let mut left = a.clone();
        left.merge(&b);
        left.merge(&c);
        let mut bc = b.clone();
        bc.merge(&c);
        let mut right = a.clone();
        right.merge(&bc);
        assert_same!(left, right);
        Ok(())
    }

    /// Record merge is idempotent.
    fn r4_5_record_merge_is_idempotent(u) {
        let a = record(u)?;
        let mut aa = a.clone();
        aa.merge(&a);
        assert_same!(aa.fields().collect::<Vec<_>>(), a.fields().collect::<Vec<_>>());
        check_shadow_index(&aa, "record self-merge");
        Ok(())
    }

    /// Replica merge copies every register of the other replica except its
    /// pending writes, which reach it through the log (R4.5): a field the
    /// other holds a pending write of is left as it was.
    fn r4_5_replica_merge_copies_every_register_but_the_others_pending_writes(u) {
        let (a, b) = (replica(u)?, replica(u)?);
        let mut ab = a.clone();
        ab.merge(&b);
        let pending = |key: &RecordKey, name: &str, reg: &Register| {
            b.outbox().iter().any(|c| {
                c.key() == key && c.writes().any(|(n, w)| n == name && w.at == reg.at && w.by == reg.by)
            }) && &reg.by == b.client_id()
        };
        for (key, theirs) in b.records().iter() {
            for (name, reg) in theirs.fields() {
                let now = ab.record(key).and_then(|r| r.field(name));
                if pending(key, name, reg) {
                    assert_eq!(now, a.record(key).and_then(|r| r.field(name)), "{key} {name}");
                } else {
                    let now = now.expect("a merged register is held");
                    assert_ne!(now.cmp_total(reg), Ordering::Less, "{key} {name}");
                }
            }
        }
        Ok(())
    }

    /// Replica merge is commutative on the records of replicas without
    /// pending writes.
    fn r4_5_replica_merge_is_commutative(u) {
        let (a, b) = (acknowledged(replica(u)?), acknowledged(replica(u)?));
        let (mut ab, mut ba) = (a.clone(), b.clone());
        ab.merge(&b);
        ba.merge(&a);
        assert_same!(ab.records(), ba.records());
        Ok(())
    }

    /// Replica merge is associative on the records of replicas without
    /// pending writes.
    fn r4_5_replica_merge_is_associative(u) {
        let (a, b, c) = (
            acknowledged(replica(u)?),
            acknowledged(replica(u)?),
            acknowledged(replica(u)?),
        );
        let mut left = a.clone();
        left.merge(&b);
        left.merge(&c);
        let mut bc = b.clone();
        bc.merge(&c);
        let mut right = a.clone();
        right.merge(&bc);
        assert_same!(left.records(), right.records());
        Ok(())
    }

    /// Replica merge is idempotent: merging itself changes no record and
    /// reports nothing.
    fn r4_5_replica_merge_is_idempotent(u) {
        let a = replica(u)?;
        let mut aa = a.clone();
        let report = aa.merge(&a);
        assert_same!(aa.records(), a.records());
        assert!(report.conflicts.is_empty() && report.anomalies.is_empty() && report.hidden_edits.is_empty());
        assert_eq!(report.tally.duplicate, report.tally.total());
        Ok(())
    }

    /// Applying a set of changes in any order, with duplicates, gives the
    /// records of merging their registers as states.
    fn r4_5_any_delivery_order_converges_to_the_state_merge(u) {
        let batch = changes(u)?;
        let mut shuffled = batch.clone();
        for _ in 0..u.int_in_range(0u8..=3)? {
            if !batch.is_empty() {
                shuffled.push(u.choose(&batch)?.clone());
            }
        }
        for i in (1..shuffled.len()).rev() {
            let j = u.int_in_range(0..=i)?;
            shuffled.swap(i, j);
        }
        let start = replica(u)?;
        let (mut in_order, mut any_order) = (start.clone(), start.clone());
        in_order.apply(&batch, Delivery::Live);
        any_order.apply(&shuffled, delivery(u)?);
        assert_same!(in_order.records(), any_order.records());
        // The state merge: every change as a record, merged into the start.
        let mut states = owned(start.records());
        for c in &batch {
            let mut rec = Record::new();
            for (name, reg) in c.writes() {
                rec.merge_register(name, reg, Delivery::Live);
            }
            states.entry(c.key().clone()).or_default().merge(&rec);
        }
        assert_same!(owned(in_order.records()), states);
        for rec in any_order.records().values() {
            check_shadow_index(rec, "apply");
        }
        Ok(())
    }

    /// Duplicates and older registers are silent and change nothing.
    fn r6_2_duplicates_and_stale_registers_are_silent(u) {
        let (a, b) = register_pair(u)?;
        let d = delivery(u)?;
        assert_eq!(decide(Some(&a), &a, d), Decision::Duplicate);
        if b.cmp_version(&a) == Ordering::Less {
            assert_eq!(decide(Some(&a), &b, d), Decision::Stale);
        }
        if b.cmp_version(&a) == Ordering::Equal && a != b {
            assert_eq!(
                decide(Some(&a), &b, d),
                Decision::Twin { incoming_won: b.cmp_total(&a) == Ordering::Greater }
            );
        }
        Ok(())
    }

    /// A conflict exactly when a user's value loses to a different value
    /// whose writer had not seen it; legacy winners spare hydration; the
    /// silent reasons in the order of the rule.
    fn r6_3_r6_4_a_conflict_exactly_when_an_unseen_user_value_is_lost(u) {
        let (current, mut incoming) = register_pair(u)?;
        if u.arbitrary()? {
            incoming.base = Base::Saw(current.version());
        }
        let d = delivery(u)?;
        let decision = decide(Some(&current), &incoming, d);
        if incoming.cmp_version(&current) != Ordering::Greater {
            assert!(!matches!(decision, Decision::Conflict(_) | Decision::Overwrite(_)));
            return Ok(());
        }
        let expected = if current.origin != Origin::User {
            Decision::Overwrite(Silence::LoserNotUser)
        } else if text(&current.value) == text(&incoming.value) {
            Decision::Overwrite(Silence::SameValue)
        } else {
            match &incoming.base {
                Base::Saw(v) if *v == current.version() => Decision::Overwrite(Silence::Witnessed),
                Base::Saw(_) | Base::First => Decision::Conflict(ConflictRule::Unwitnessed),
                Base::Legacy if d == Delivery::Hydration => Decision::Overwrite(Silence::LegacyHydration),
                Base::Legacy => Decision::Conflict(ConflictRule::Legacy),
            }
        };
        assert_eq!(decision, expected, "{current:?} <- {incoming:?}");
        Ok(())
    }

    /// Re-delivering changes never reports a conflict (or a hidden edit)
    /// twice and changes no record.
    fn r6_7_redelivery_never_reports_a_conflict_twice(u) {
        let mut r = replica(u)?;
        let batch = changes(u)?;
        r.apply(&batch, delivery(u)?);
        let before = owned(r.records());
        let mut again: Vec<Change> = Vec::new();
        for _ in 0..u.int_in_range(0u8..=6)? {
            if !batch.is_empty() {
                again.push(u.choose(&batch)?.clone());
            }
        }
        let report = r.apply(&again, delivery(u)?);
        assert!(report.conflicts.is_empty(), "{:?}", report.conflicts);
        assert!(report.hidden_edits.is_empty());
        let t = report.tally;
        assert_eq!(t.duplicate + t.stale + t.twin, t.total(), "{t:?}");
        assert_same!(owned(r.records()), before);
        Ok(())
    }

    /// Every conflict report names a user loser with another value, a
    /// winner with a greater version, the rule that fits the winner's
    /// witness, and whether this replica wrote the loser.
    fn r6_8_conflict_reports_are_exact(u) {
        let mut r = replica(u)?;
        let report = r.apply(&changes(u)?, delivery(u)?);
        for c in &report.conflicts {
            assert_eq!(c.loser.origin, Origin::User);
            assert_ne!(text(&c.loser.value), text(&c.winner.value));
            assert_eq!(c.winner.cmp_version(&c.loser), Ordering::Greater);
            assert_ne!(c.winner.base, Base::Saw(c.loser.version()));
            assert_eq!(c.rule == ConflictRule::Legacy, c.winner.base == Base::Legacy);
            assert_eq!(c.loser_is_local, &c.loser.by == r.client_id());
        }
        assert_eq!(
            report.conflicts.len() as u64,
            report.tally.conflict_unwitnessed + report.tally.conflict_legacy
        );
        Ok(())
    }

    /// `derive_updated_at` of a record is its greatest `at`; of a stored
    /// row, the greatest parseable `at` of its metadata map, else a
    /// parseable `updatedAt`; never a panic on any row.
    fn r7_derive_updated_at_is_the_greatest_at(u) {
        let rec = record(u)?;
        check_shadow_index(&rec, "a generated record");
        let mut meta = Map::new();
        for (name, reg) in rec.fields() {
            meta.insert(name.to_owned(), json!({"at": reg.at.to_string(), "origin": "user"}));
        }
        if u.arbitrary()? {
            meta.insert("garbage".into(), value(u)?);
        }
        let updated_at = timestamp(u)?;
        let row = json!({"__fieldMeta": meta, "updatedAt": updated_at.to_string()});
        let expected = rec.derive_updated_at().or(Some(updated_at));
        assert_eq!(derive_updated_at(&row), expected);
        let _ = derive_updated_at(&value(u)?);
        Ok(())
    }

    /// The shadow index equals the last change of every record after every
    /// operation of any run, on every replica and on the server.
    fn r8_1_shadow_index_follows_every_operation(u) {
        let run = actions(u, 24)?;
        let mut w = World::default();
        for (i, action) in run.iter().enumerate() {
            w.step(action);
            for r in &w.replicas {
                for rec in r.records().values() {
                    check_shadow_index(rec, &format!("step {i} {action:?}"));
                }
            }
            for rec in w.server.records().values() {
                check_shadow_index(rec, &format!("server, step {i}"));
            }
        }
        Ok(())
    }

    /// Every change the kernel makes (pending in an outbox, or appended to
    /// the server log by a push, an agent write or a bootstrap) is valid:
    /// its own wire form decodes back to it.
    fn r11_2_every_change_the_kernel_makes_is_valid(u) {
        for c in server_with_history(u)?.log() {
            assert_same!(Change::from_wire(&c.to_wire(), 0).as_ref(), Ok(c));
        }
        let run = actions(u, 24)?;
        let mut w = World::default();
        for (i, action) in run.iter().enumerate() {
            w.step(action);
            let made = w.replicas.iter().flat_map(|r| r.outbox()).chain(w.server.log());
            for c in made {
                let back = Change::from_wire(&c.to_wire(), 0);
                assert!(same(&back.as_ref(), &Ok(c)), "step {i} {action:?}: {back:?}");
            }
        }
        Ok(())
    }

    /// A local write stamps one `at`: `now + offset`, floored just above
    /// every register of the record it writes (the genesis for a record
    /// the replica does not hold) and by nothing else (R2.2). It beats every
    /// register of that record, with `by` its client id, the actor's
    /// origin, and the overwritten version as base.
    fn r2_2_r5_3_a_local_write_beats_every_register_of_its_record(u) {
        let mut r = replica(u)?;
        let (key, who, p, now) = (record_key(u)?, actor(u)?, patch(u)?, timestamp(u)?);
        let before = r.clone();
        let Ok(Some(c)) = r.write(&key, &who, &p, now) else { return Ok(()) };
        let clock = before.clock();
        let old_record = before.record(&key);
        let floor = old_record.and_then(Record::derive_updated_at).map_or(0, |h| h.as_ms()) + 1;
        let wall = now.as_ms().saturating_add(clock.offset_ms).clamp(0, Timestamp::MAX.as_ms());
        let at = wall.max(floor);
        for (name, reg) in c.writes() {
            assert_eq!(reg.at.as_ms(), at);
            assert_eq!(&reg.by, before.client_id());
            assert_eq!(reg.origin, who.origin());
            let old = old_record.and_then(|rec| rec.field(name));
            assert_eq!(reg.base, old.map_or(Base::First, |o| Base::Saw(o.version())));
            for (_, had) in old_record.into_iter().flat_map(Record::fields) {
                assert_eq!(reg.cmp_version(had), Ordering::Greater, "{reg:?} vs {had:?}");
            }
            assert_eq!(r.record(&key).and_then(|rec| rec.field(name)), Some(reg));
        }
        assert_eq!(r.clock().stamped.as_ms(), at.max(clock.stamped.as_ms()));
        Ok(())
    }

    /// A write stamps exactly the fields whose value changes (all of them
    /// for a new record); a write that changes nothing changes nothing at
    /// all, the clock included.
    fn r5_1_r5_2_a_write_stamps_only_changed_fields(u) {
        let mut r = replica(u)?;
        let (key, who, p, now) = (record_key(u)?, actor(u)?, patch(u)?, timestamp(u)?);
        let before = r.clone();
        let Ok(result) = r.write(&key, &who, &p, now) else { return Ok(()) };
        let old = before.record(&key);
        let expected: Vec<&str> = p
            .iter()
            .filter(|(name, v)| {
                old.and_then(|rec| rec.field(name)).is_none_or(|reg| text(&reg.value) != text(v))
            })
            .map(|(name, _)| name.as_str())
            .collect();
        let stamped: Vec<&str> = result.as_ref().map_or(Vec::new(), |c| c.writes().map(|(n, _)| n).collect());
        assert_eq!(stamped, expected);
        if result.is_none() {
            assert_eq!(state(&r), state(&before));
        }
        Ok(())
    }

    /// Every write that stamps something yields one pending change with the
    /// next `client_seq`, carrying only the stamped fields.
    fn r5_4_every_stamping_write_yields_one_pending_change(u) {
        let mut r = replica(u)?;
        let (key, who, p, now) = (record_key(u)?, actor(u)?, patch(u)?, timestamp(u)?);
        let (seq, pending) = (r.next_seq(), r.outbox().len());
        if let Ok(Some(c)) = r.write(&key, &who, &p, now) {
            assert_eq!(c.client_seq(), Some(seq));
            assert_eq!(r.next_seq(), seq + 1);
            assert_eq!(r.outbox().len(), pending + 1);
            assert_eq!(r.outbox().last(), Some(&c));
            assert!(c.writes().all(|(n, _)| p.contains_key(n)));
        }
        Ok(())
    }

    /// A write refused for bad input returns a typed error and leaves the
    /// replica unchanged, bit for bit.
    fn r5_5_a_refused_write_changes_nothing(u) {
        let mut r = replica(u)?;
        let before = state(&r);
        let (key, who, p, now) = (record_key(u)?, actor(u)?, bad_patch(u)?, timestamp(u)?);
        let err = r.write(&key, &who, &p, now).expect_err("a bad patch is refused");
        assert!(["bad_name", "reserved_field", "too_deep", "too_many_fields"].contains(&err.code()));
        assert_eq!(state(&r), before);
        Ok(())
    }

    /// A page that does not continue the cursor is refused and changes
    /// nothing, bit for bit.
    fn r6_5_a_refused_page_changes_nothing(u) {
        let server = server_with_history(u)?;
        let mut r = replica(u)?;
        if u.arbitrary()? {
            let _ = r.apply_page(&server.pull(0, u.int_in_range(0usize..=4)?));
        }
        let mut page: Page = server.pull(u.int_in_range(0u64..=6)?, u.int_in_range(0usize..=4)?);
        match u.int_in_range(0u8..=4)? {
            0 => page.changes.reverse(),
            1 => { page.changes.pop(); page.changes.push(change(u)?); }
            2 => page.head = page.head.saturating_sub(u.int_in_range(1u64..=3)?),
            3 => page.after = page.after.wrapping_add(1),
            _ => {}
        }
        let before = state(&r);
        let copy = r.clone();
        if let Err(e) = r.apply_page(&page) {
            assert!(["not_at_cursor", "not_consecutive", "head_behind"].contains(&e.code()));
            assert_eq!(state(&r), before);
            assert_same!(r, copy);
        }
        Ok(())
    }

    /// A refused push changes nothing on the server.
    fn r12_1_a_refused_push_changes_nothing(u) {
        let mut server = server_with_history(u)?;
        let mut r = replica(u)?;
        if u.arbitrary()? {
            let _ = server.push(&r.push(), timestamp(u)?);
        }
        let _ = r.write(&record_key(u)?, &actor(u)?, &patch(u)?, timestamp(u)?);
        let mut push = r.push();
        match u.int_in_range(0u8..=3)? {
            0 => push.changes = changes(u)?,
            1 => { push.changes.reverse(); }
            2 => push.client_id = client_id(u)?,
            _ => {}
        }
        let push = Push { cursor: u.int_in_range(0u64..=8)?, ..push };
        let push = Push { clock_epoch: u.int_in_range(0u64..=2)?, ..push };
        let before = server.clone();
        if let Err(e) = server.push(&push, timestamp(u)?) {
            assert!(["foreign_change", "missing_seq", "seq_order", "seq_reused", "seq_gap", "clock_ahead", "stale_clock"].contains(&e.code()));
            // R12.4: a clock_ahead refusal raises the epoch the client's next
            // push must carry, and changes nothing else.
            let mut expected = before.clone();
            if e.code() == "clock_ahead" {
                assert_eq!(server.clock_epoch(&push.client_id), push.clock_epoch + 1);
                assert_eq!((server.log(), server.records()), (before.log(), before.records()));
                expected = server.clone();
            }
            assert_same!(server, expected);
        }
        Ok(())
    }

    /// Decoding the encoding of valid changes gives them back, as values
    /// and through JSON text; encoding is canonical.
    /// The direct writers give the canonical text byte for byte (R11.4):
    /// a change's and a page's, quarantined entries included (R12.6).
    fn r11_4_the_direct_writers_write_the_canonical_text(u) {
        let c = change(u)?;
        assert_eq!(c.to_text(), fieldmerge::canonical_json(&c.to_wire()));
        let mut server = server_with_history(u)?;
        if u.ratio(1u8, 2)? {
            server.append_quarantined(value(u)?);
        }
        let page = server.pull(u.int_in_range(0..=server.head())?, u.int_in_range(1usize..=8)?);
        assert_eq!(page.to_text(), fieldmerge::canonical_json(&page.to_json()));
        let push = replica(u)?.push();
        assert_eq!(push.to_text(), fieldmerge::canonical_json(&push.to_json()));
        Ok(())
    }

    fn r11_4_wire_round_trip_is_the_identity(u) {
        let c = change(u)?;
        assert_same!(Change::from_wire(&c.to_wire(), 0).as_ref(), Ok(&c));
        let batch = changes(u)?;
        let wire = encode_changes(&batch);
        let text = serde_json::to_vec(&wire).unwrap_or_default();
        let decoded = decode_changes(&text).expect("an encoded batch decodes");
        assert_same!(decoded, batch);
        assert_eq!(encode_changes(&decoded), wire);
        Ok(())
    }

    /// Bad wire input is a typed error with a stable code that names the
    /// change; never a panic. Arbitrary bytes too.
    fn r11_5_bad_wire_input_is_a_typed_error(u) {
        let batch = wire_batch(u)?;
        let len = batch.as_array().map_or(0, Vec::len);
        if let Err(e) = decode_change_values(&batch) {
            assert!(e.index < len.max(1), "{e}");
            assert!([
                "json", "wrong_type", "missing", "unknown_member", "unknown_op", "unknown_origin",
                "bad_timestamp", "meta_without_data", "data_without_meta", "empty_change",
                "bad_name", "local_only_field", "too_deep", "too_many_fields",
                "delete_without_tombstone",
            ].contains(&e.kind.code()), "{e}");
        }
        let raw: Vec<u8> = u.arbitrary()?;
        let _ = decode_changes(&raw);
        let _ = ReplicaState::load_json(&raw);
        Ok(())
    }

    /// A page reads entry by entry (R12.6): a batch's text as a page's
    /// `changes` keeps the changes a batch decode accepts, in order, and
    /// quarantines each one it refuses, at its place, with the code, index
    /// and field that change gets alone; arbitrary bytes as the entries,
    /// or as a push reply, are a typed error or a page, never a panic.
    fn r12_6_a_page_quarantines_exactly_the_entries_a_batch_refuses(u) {
        let batch = wire_batch(u)?;
        if let Some(items) = batch.as_array() {
            let text = format!(
                r#"{{"after":0,"changes":{},"head":{}}}"#,
                fieldmerge::canonical_json(&batch),
                items.len()
            );
            let page = fieldmerge::Page::from_json(text.as_bytes()).expect("JSON entries read");
            assert_eq!(page.len(), items.len());
            let (mut changes, mut quarantined) = (page.changes.iter(), page.quarantined.iter());
            for (i, item) in items.iter().enumerate() {
                // The entry alone, as a batch's text: its text's faults come
                // before its checks (R11.5).
                let alone = format!("[{}]", fieldmerge::canonical_json(item));
                match decode_changes(alone.as_bytes()).map(|mut c| c.remove(0)) {
                    Ok(change) => assert_same!(changes.next(), Some(&change)),
                    Err(e) => {
                        let q = quarantined.next().expect("the refused entry is quarantined");
                        assert_eq!(q.server_seq, i as u64 + 1);
                        let got = (q.error.code.as_str(), q.error.index, q.error.field.clone());
                        assert_eq!(got, (e.kind.code(), Some(i), e.field.clone()), "{e}");
                        // An entry whose own text does not read (too deep) is
                        // kept as its exact text; any other as read.
                        match &q.entry {
                            Value::String(t) if !item.is_string() => {
                                assert_eq!(t, &fieldmerge::canonical_json(item));
                            }
                            entry => assert!(values_equal(entry, item)),
                        }
                    }
                }
            }
        }
        let raw: Vec<u8> = u.arbitrary()?;
        let mut text = br#"{"after":0,"changes":"#.to_vec();
        text.extend_from_slice(&raw);
        text.extend_from_slice(br#","head":0}"#);
        let _ = fieldmerge::Page::from_json(&text);
        let _ = fieldmerge::PushReply::from_json(&raw);
        Ok(())
    }

    /// The page reader's fast path (issue #13) reads exactly what the one
    /// reader reads (R11.7, R12.6): a served page, spaced out or with a
    /// byte changed, gives the same page or the same error through
    /// `Page::from_json` as through `read_json` and `Page::from_value`.
    fn r12_6_the_page_readers_fast_path_agrees_with_the_one_reader(u) {
        let mut server = server_with_history(u)?;
        if u.ratio(1u8, 4)? {
            server.append_quarantined(value(u)?);
        }
        // A named log's pages carry its name (R12.7), escapes included.
        if u.ratio(1u8, 3)? {
            let name = *u.choose(&["main", "pg \"main\"", "\u{e9}t\u{e9}", "a\u{1}b"])?;
            server = server.with_log_name(name).expect("a name");
        }
        let page = server.pull(u.int_in_range(0..=server.head())?, u.int_in_range(1usize..=8)?);
        let mut text = match u.int_in_range(0u8..=2)? {
            0 => page.to_text().into_bytes(),
            1 => serde_json::to_vec_pretty(&page.to_json()).unwrap_or_default(),
            _ => serde_json::to_vec(&page.to_json()).unwrap_or_default(),
        };
        for _ in 0..u.int_in_range(0u8..=2)? {
            if text.is_empty() {
                break;
            }
            let i = u.choose_index(text.len())?;
            text[i] = *u.choose(b"{}[]\",:0123456789.e-tnul \\az\x80")?;
        }
        let fast = Page::from_json(&text);
        if let Ok(value) = fieldmerge::read_json(&text) {
            let slow = Page::from_value(&value);
            assert_same!(fast.map_err(|e| e.kind.code()), slow.map_err(|e| e.kind.code()));
        } else if text == page.to_text().into_bytes() {
            assert_same!(fast, Ok(page));
        }
        // A push the same way (R13.1).
        let push = replica(u)?.push();
        let mut text = match u.int_in_range(0u8..=2)? {
            0 => push.to_text().into_bytes(),
            1 => serde_json::to_vec_pretty(&push.to_json()).unwrap_or_default(),
            // `cursor` and `clock_epoch` left to their default (R13.1).
            _ => {
                let mut form = push.to_json();
                if let Value::Object(m) = &mut form {
                    m.remove("cursor");
                    m.remove("clock_epoch");
                }
                serde_json::to_vec(&form).unwrap_or_default()
            }
        };
        for _ in 0..u.int_in_range(0u8..=2)? {
            if text.is_empty() {
                break;
            }
            let i = u.choose_index(text.len())?;
            text[i] = *u.choose(b"{}[]\",:0123456789.e-tnul \\az\x80")?;
        }
        if let Ok(value) = fieldmerge::read_json(&text) {
            let (fast, slow) = (Push::from_json(&text), Push::from_value(&value));
            assert_same!(fast.map_err(|e| e.kind.code()), slow.map_err(|e| e.kind.code()));
        }
        Ok(())
    }

    /// The persisted state of a replica loads back as the same replica.
    fn r12_5_replica_state_round_trip_is_the_identity(u) {
        let r = replica(u)?;
        let text = state(&r);
        let loaded = ReplicaState::load_json(text.as_bytes()).expect("a saved state loads");
        assert_same!(loaded, r);
        Ok(())
    }

    /// Every hidden-edit report names a local user edit newer than the
    /// tombstone that hid it, and the edit stays in the deleted record
    /// (R9.2, R9.3).
    fn r9_3_hidden_edits_are_local_user_edits_newer_than_the_tombstone(u) {
        let mut r = replica(u)?;
        // One change (or one merge) at a time, so the record is observed
        // right after the apply that hid the edit.
        for _ in 0..u.int_in_range(1u8..=6)? {
            let report = if u.ratio(4u8, 5)? {
                r.apply(&[change(u)?], delivery(u)?)
            } else {
                r.merge(&replica(u)?)
            };
            for h in &report.hidden_edits {
                assert_eq!(h.edit.origin, Origin::User);
                assert_eq!(&h.edit.by, r.client_id());
                assert_eq!(h.edit.cmp_version(&h.tombstone), Ordering::Greater);
                assert!(!h.tombstone.value.is_null());
                let rec = r.record(&h.key).expect("the record is there");
                assert!(rec.is_deleted());
                assert_eq!(rec.field(&h.field), Some(&h.edit));
                assert_eq!(rec.field(TOMBSTONE_FIELD), Some(&h.tombstone));
            }
        }
        Ok(())
    }

    /// A bootstrap placeholder never overwrites content: whatever the
    /// order, every real write of a field beats the genesis (R10.1).
    fn r10_1_a_placeholder_never_overwrites_content(u) {
        let (key, fields) = (singleton_key(u)?, singleton_fields(u)?);
        let mut content = Replica::new(WriterId::new("a"));
        let Ok(Some(written)) = content.write(&key, &actor(u)?, &patch(u)?, timestamp(u)?) else {
            return Ok(());
        };
        let mut placeholder = Replica::new(WriterId::new("b"));
        if placeholder.bootstrap(&key, &fields).is_err() {
            return Ok(());
        }
        placeholder.apply(std::slice::from_ref(&written), delivery(u)?);
        content.merge(&placeholder);
        for r in [&content, &placeholder] {
            for (name, reg) in written.writes() {
                assert_eq!(r.record(&key).and_then(|rec| rec.field(name)), Some(reg));
            }
        }
        Ok(())
    }

    /// A client placeholder and the server's bootstrap row with the same
    /// fields collapse as duplicates: no conflict, no anomaly.
    fn r10_4_identical_placeholders_collapse_silently(u) {
        let (key, fields) = (singleton_key(u)?, singleton_fields(u)?);
        let mut server = Server::new(ServerConfig::default());
        let mut r = Replica::new(WriterId::new("a"));
        let _ = server.bootstrap(&key, &fields);
        let _ = r.bootstrap(&key, &fields);
        let reply = server.push(&r.push(), timestamp(u)?).expect("a placeholder is never ahead");
        assert!(reply.report.conflicts.is_empty() && reply.report.anomalies.is_empty());
        r.ack(reply.acked_through);
        let report = r.apply_page(&reply.page).expect("the reply continues the cursor");
        assert!(report.conflicts.is_empty() && report.anomalies.is_empty());
        if let Some(rec) = r.record(&key) {
            for (_, reg) in rec.fields() {
                assert_eq!((reg.at, reg.by.as_str()), (fieldmerge::Timestamp::GENESIS, SYSTEM_BOOTSTRAP));
            }
        }
        Ok(())
    }
}

/// Regression (found by `r11_4_wire_round_trip_is_the_identity`): a value
/// nested 128 levels is valid (R11.6), yet `serde_json`'s parser refused
/// any document nested deeper than 127 levels, so such a change could not
/// be decoded from its own encoding as text (R11.4), nor a state holding it
/// loaded (R12.5). One level more is still refused, as a typed error.
#[test]
fn r11_4_r11_6_a_value_nested_128_levels_round_trips_as_text() {
    for objects in [false, true] {
        let deep =
            fieldmerge_harness::gen::nested(json!("leaf"), fieldmerge::VALUE_DEPTH_MAX, objects);
        let mut r = Replica::new(WriterId::new("a"));
        let key = RecordKey::new("tasks", "t1");
        let patch: Map<String, Value> = [("deep".to_owned(), deep)].into_iter().collect();
        let c = r
            .write(
                &key,
                &fieldmerge::Actor::User,
                &patch,
                fieldmerge::Timestamp::GENESIS,
            )
            .expect("a value nested 128 levels is valid")
            .expect("a new record stamps its fields");
        let text = serde_json::to_vec(&encode_changes(std::slice::from_ref(&c))).expect("encodes");
        assert_eq!(decode_changes(&text), Ok(vec![c]));
        let state = serde_json::to_vec(&ReplicaState::of(&r)).expect("encodes");
        assert_eq!(ReplicaState::load_json(&state), Ok(r));

        let too_deep =
            fieldmerge_harness::gen::nested(json!(1), fieldmerge::VALUE_DEPTH_MAX + 1, objects);
        let wire = json!([{"table": "tasks", "id": "t1", "op": "update", "data": {"deep": too_deep},
            "field_meta": {"deep": {"at": "2026-04-26T10:00:00.000Z", "origin": "user"}}, "client_id": "a"}]);
        let err =
            decode_changes(&serde_json::to_vec(&wire).expect("encodes")).expect_err("too deep");
        assert_eq!(
            (err.kind.code(), err.index, err.field.as_deref()),
            ("too_deep", 0, Some("deep")),
            "{err}"
        );
        let hostile = "[".repeat(100_000);
        assert_eq!(
            decode_changes(hostile.as_bytes()).map_err(|e| e.kind.code()),
            Err("too_deep")
        );
    }
}

/// Regression (found by `r11_2_every_change_the_kernel_makes_is_valid`):
/// an agent write that repeats the tombstone value it already holds stamps
/// only its other fields, so it is an update, not a delete without a
/// tombstone that no decoder accepts (R11.2, R12.4).
#[test]
fn r11_2_r12_4_an_agent_write_that_keeps_the_tombstone_is_an_update() {
    let mut server = Server::new(ServerConfig::default());
    let (agent, key) = (WriterId::new("agent"), RecordKey::new("tasks", "t1"));
    let patch = |v: Value| v.as_object().cloned().unwrap_or_default();
    let at = |ms: i64| fieldmerge::Timestamp::from_ms(1_777_197_600_000 + ms).expect("in range");
    let write = |server: &mut Server, p: Value, ms| {
        server
            .write(&agent, &fieldmerge::Actor::Ai, &key, &patch(p), at(ms))
            .expect("a valid write")
            .expect("it changes something")
    };
    write(&mut server, json!({"title": "a"}), 0);
    let deleted = write(&mut server, json!({"deletedAt": "x", "title": "b"}), 1);
    assert_eq!(deleted.op(), fieldmerge::Op::Delete);
    let edited = write(&mut server, json!({"deletedAt": "x", "title": "c"}), 2);
    assert_eq!(edited.op(), fieldmerge::Op::Update);
    assert!(edited.write(TOMBSTONE_FIELD).is_none());
    for c in server.log() {
        assert_same!(Change::from_wire(&c.to_wire(), 0).as_ref(), Ok(c));
    }
}

/// Regression (found by `r11_2_every_change_the_kernel_makes_is_valid`):
/// a bootstrap with more than 1024 fields is refused like any write, on
/// the client and on the server, instead of yielding a change no decoder
/// accepts (R5.5, R10.4, R11.2).
#[test]
fn r10_4_r5_5_a_placeholder_with_too_many_fields_is_refused() {
    let key = RecordKey::singleton("settings", "u1");
    let fields: Map<String, Value> = (0..=fieldmerge::FIELDS_PER_CHANGE_MAX)
        .map(|i| (format!("f{i}"), json!(i)))
        .collect();
    let mut r = Replica::new(WriterId::new("a"));
    let before = state(&r);
    assert_eq!(
        r.bootstrap(&key, &fields).map_err(|e| e.code()),
        Err("too_many_fields")
    );
    assert_eq!(state(&r), before);
    let mut server = Server::new(ServerConfig::default());
    assert_eq!(
        server.bootstrap(&key, &fields).map_err(|e| e.code()),
        Err("too_many_fields")
    );
    assert!(server.log().is_empty());
}
