//! Millisecond timestamps and their one wire spelling (SPEC R2).

use std::fmt;

use thiserror::Error;

/// A point in time with millisecond precision, as milliseconds since
/// `1970-01-01T00:00:00.000Z` (SPEC R2).
///
/// The representable range is `1970-01-01T00:00:00.000Z` (the genesis, used
/// by bootstrap writes, SPEC R10) through `9999-12-31T23:59:59.999Z`: exactly
/// the instants whose canonical wire spelling has a four-digit year.
///
/// # Example
/// ```
/// use fieldmerge::Timestamp;
/// let t = Timestamp::parse("2026-04-26T10:00:00.000Z").unwrap();
/// assert_eq!(t.to_string(), "2026-04-26T10:00:00.000Z");
/// assert_eq!(Timestamp::GENESIS.to_string(), "1970-01-01T00:00:00.000Z");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(i64);

const MS_PER_DAY: i64 = 86_400_000;

impl Timestamp {
    /// `1970-01-01T00:00:00.000Z`: the stamp of every bootstrap write (SPEC R10).
    pub const GENESIS: Timestamp = Timestamp(0);
    /// `9999-12-31T23:59:59.999Z`: the last representable instant.
    pub const MAX: Timestamp = Timestamp(253_402_300_799_999);

    /// The timestamp `ms` milliseconds after the genesis.
    ///
    /// # Errors
    /// [`TimestampError::OutOfRange`] when `ms` is negative or after [`Timestamp::MAX`].
    pub fn from_ms(ms: i64) -> Result<Timestamp, TimestampError> {
        if (0..=Self::MAX.0).contains(&ms) {
            Ok(Timestamp(ms))
        } else {
            Err(TimestampError::OutOfRange { ms })
        }
    }

    /// Milliseconds since the genesis.
    pub fn as_ms(self) -> i64 {
        self.0
    }

    /// The next millisecond, or `None` at [`Timestamp::MAX`].
    pub fn next(self) -> Option<Timestamp> {
        if self.0 < Self::MAX.0 {
            Some(Timestamp(self.0 + 1))
        } else {
            None
        }
    }

    /// `self` moved by `delta_ms`, saturating at both ends of the range.
    pub fn saturating_add_ms(self, delta_ms: i64) -> Timestamp {
        Timestamp(self.0.saturating_add(delta_ms).clamp(0, Self::MAX.0))
    }

    /// Parses the canonical wire spelling `YYYY-MM-DDTHH:MM:SS.mmmZ` and nothing
    /// else: no offsets, no missing or extra digits, no leap seconds, no
    /// impossible dates (SPEC R2).
    ///
    /// # Errors
    /// [`TimestampError::Malformed`] for any other text.
    pub fn parse(text: &str) -> Result<Timestamp, TimestampError> {
        let malformed = || TimestampError::Malformed {
            text: text.chars().take(40).collect(),
        };
        let b = text.as_bytes();
        if b.len() != 24 {
            return Err(malformed());
        }
        // Separators at fixed places; every other byte is a digit.
        for (i, &c) in b.iter().enumerate() {
            let want = match i {
                4 | 7 => Some(b'-'),
                10 => Some(b'T'),
                13 | 16 => Some(b':'),
                19 => Some(b'.'),
                23 => Some(b'Z'),
                _ => None,
            };
            match want {
                Some(sep) if c != sep => return Err(malformed()),
                None if !c.is_ascii_digit() => return Err(malformed()),
                _ => {}
            }
        }
        let num = |from: usize, to: usize| -> i64 {
            b[from..to]
                .iter()
                .fold(0i64, |acc, &d| acc * 10 + i64::from(d - b'0'))
        };
        let (year, month, day) = (num(0, 4), num(5, 7), num(8, 10));
        let (hour, minute, second, milli) = (num(11, 13), num(14, 16), num(17, 19), num(20, 23));
        if year < 1970
            || !(1..=12).contains(&month)
            || day < 1
            || day > days_in_month(year, month)
            || hour > 23
            || minute > 59
            || second > 59
        {
            return Err(malformed());
        }
        let days = days_from_civil(year, month, day);
        let ms = days * MS_PER_DAY + ((hour * 60 + minute) * 60 + second) * 1000 + milli;
        Ok(Timestamp(ms))
    }
}

impl fmt::Display for Timestamp {
    /// Formats the canonical wire spelling (SPEC R2).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let days = self.0.div_euclid(MS_PER_DAY);
        let rest = self.0.rem_euclid(MS_PER_DAY);
        let (year, month, day) = civil_from_days(days);
        let (hour, minute) = (rest / 3_600_000, rest / 60_000 % 60);
        let (second, milli) = (rest / 1000 % 60, rest % 1000);
        write!(
            f,
            "{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}.{milli:03}Z"
        )
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

impl std::str::FromStr for Timestamp {
    type Err = TimestampError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Timestamp::parse(s)
    }
}

impl serde::Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Timestamp::parse(&text).map_err(serde::de::Error::custom)
    }
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

// Howard Hinnant's `days_from_civil` / `civil_from_days`, proleptic Gregorian.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// A timestamp that is not in the canonical wire spelling or not in range.
#[derive(Clone, PartialEq, Eq, Debug, Error)]
pub enum TimestampError {
    /// The text is not `YYYY-MM-DDTHH:MM:SS.mmmZ` with a real date and time.
    #[error("malformed timestamp {text:?}: expected YYYY-MM-DDTHH:MM:SS.mmmZ")]
    Malformed {
        /// The rejected text (at most 40 characters).
        text: String,
    },
    /// Milliseconds outside `1970-01-01T00:00:00.000Z..=9999-12-31T23:59:59.999Z`.
    #[error("timestamp {ms} ms is outside 1970-01-01T00:00:00.000Z..=9999-12-31T23:59:59.999Z")]
    OutOfRange {
        /// The rejected number of milliseconds since the genesis.
        ms: i64,
    },
}
