//! The skew rule (SPEC R12.3): how far ahead of the server a new change may
//! be stamped. The server applies it to a push; a replica applies the same
//! function to find what a refusal refused (R12.4), so the two agree.

use crate::timestamp::Timestamp;

/// The latest stamp a new change may carry, given the server's `now` and
/// the greatest `at` the log holds (`high`, raised by the push's new
/// changes before it): `max(now + skew_ms_max, high + 1 ms)` (SPEC R12.3).
/// A stamp at most 1 ms past the log's is one an honest writer can be
/// forced to: it beats a register of the record it writes (R2.2), or a
/// restamp beats what its replica received (R12.4), and everything a
/// replica receives is in the log. Refusing it would refuse that writer
/// until the wall clock caught up.
pub(crate) fn skew_limit(now: Timestamp, skew_ms_max: i64, high: Timestamp) -> Timestamp {
    now.saturating_add_ms(skew_ms_max)
        .max(high.next().unwrap_or(Timestamp::MAX))
}
