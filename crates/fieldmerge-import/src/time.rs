//! The replaced system's times (SPEC R14.1): ISO 8601 with 0 to 9 fraction
//! digits and any UTC offset, read as an instant and stamped in
//! milliseconds, the fraction truncated.

use fieldmerge::Timestamp;

/// An instant read from a legacy time: its millisecond stamp (R2.1) and the
/// part of a millisecond the stamp leaves out, so rows stamped within one
/// millisecond still sort in the order they were made (R14.2).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub struct Instant {
    /// The stamp: the instant truncated to its millisecond.
    pub at: Timestamp,
    /// Nanoseconds past `at` (0 to 999,999).
    pub sub_ms_nanos: u32,
}

/// Reads a time of the replaced system (SPEC R14.1): `YYYY-MM-DD`, `T` or
/// a space, `HH:MM:SS`, optionally `.` and 1 to 9 digits, then `Z` or an
/// offset `+HH:MM`, `-HH:MM`, `+HHMM` or `+HH`. The fraction is truncated
/// to milliseconds: a stamp is never later than the instant it names, as
/// JavaScript's clock, which stamped the replaced client's writes, truncates.
///
/// # Errors
/// A message saying what is wrong, for any other spelling, a date that is
/// not on the calendar, or an instant outside R2.1's range.
///
/// # Example
/// ```
/// use fieldmerge_import::legacy_instant;
/// let i = legacy_instant("2026-04-26T12:13:47.361052+02:00").unwrap();
/// assert_eq!(i.at.to_string(), "2026-04-26T10:13:47.361Z");
/// assert_eq!(i.sub_ms_nanos, 52_000);
/// ```
pub fn legacy_instant(text: &str) -> Result<Instant, String> {
    let bad = || {
        format!(
            "time {:?} is not YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM)",
            text.chars().take(64).collect::<String>()
        )
    };
    let b = text.as_bytes();
    if b.len() < 20 || !text.is_ascii() {
        return Err(bad());
    }
    let digits = |range: std::ops::Range<usize>| b[range].iter().all(u8::is_ascii_digit);
    let shape = digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && matches!(b[10], b'T' | b' ')
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19);
    if !shape {
        return Err(bad());
    }
    let mut pos = 19;
    let mut fraction = String::new();
    if b[pos] == b'.' {
        pos += 1;
        let start = pos;
        while pos < b.len() && b[pos].is_ascii_digit() {
            pos += 1;
        }
        if pos == start || pos - start > 9 {
            return Err(bad());
        }
        fraction = text[start..pos].to_owned();
    }
    while fraction.len() < 9 {
        fraction.push('0');
    }
    let (ms_part, rest) = fraction.split_at(3);
    let sub_ms_nanos: u32 = rest.parse().map_err(|_| bad())?;
    let offset_ms = offset(&text[pos..]).ok_or_else(bad)?;
    // The wall reading as R2.1 spells it, read by the kernel (which checks
    // the calendar), then moved by the offset.
    let wall = format!("{}T{}.{ms_part}Z", &text[..10], &text[11..19]);
    let wall = Timestamp::parse(&wall).map_err(|e| format!("{}: {e}", bad()))?;
    let at = Timestamp::from_ms(wall.as_ms() - offset_ms).map_err(|e| format!("{}: {e}", bad()))?;
    Ok(Instant { at, sub_ms_nanos })
}

// `Z`, or `+HH:MM`, `+HHMM`, `+HH` (and `-`): the offset east of UTC in ms.
fn offset(zone: &str) -> Option<i64> {
    if zone == "Z" {
        return Some(0);
    }
    let (sign, rest) = match zone.as_bytes().first()? {
        b'+' => (1, &zone[1..]),
        b'-' => (-1, &zone[1..]),
        _ => return None,
    };
    let (hours, minutes) = match rest.len() {
        2 => (rest, "00"),
        4 => rest.split_at(2),
        5 if rest.as_bytes()[2] == b':' => (&rest[..2], &rest[3..]),
        _ => return None,
    };
    if !(hours
        .bytes()
        .chain(minutes.bytes())
        .all(|c| c.is_ascii_digit()))
    {
        return None;
    }
    let (h, m): (i64, i64) = (hours.parse().ok()?, minutes.parse().ok()?);
    if h > 23 || m > 59 {
        return None;
    }
    Some(sign * (h * 3_600_000 + m * 60_000))
}
