//! One field's value and metadata, and the order that picks the winner
//! (SPEC R1, R4).

use std::cmp::Ordering;
use std::fmt;
use std::sync::Arc;

use serde_json::Value;

use crate::json::cmp_values;
use crate::origin::Origin;
use crate::timestamp::Timestamp;

/// The id of a writer: a client id, an agent id, or a system sentinel such
/// as [`SYSTEM_BOOTSTRAP`](crate::SYSTEM_BOOTSTRAP). The empty id is allowed
/// (a writer that sent none) and sorts before every other (SPEC R4.2).
///
/// Cloning is a reference-count increment, so registers can share one id.
// A thin pointer (`Arc<Box<str>>`, 8 bytes, not `Arc<str>`'s 16): a register
// holds two ids (`by` and its base's), and registers are what a replica is
// made of (issue #5: memory per register).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct WriterId(Arc<Box<str>>);

impl WriterId {
    /// A writer id with the given text.
    pub fn new(id: &str) -> WriterId {
        WriterId(Arc::new(Box::from(id)))
    }

    /// The id's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for WriterId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.as_str())
    }
}

impl fmt::Display for WriterId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<&str> for WriterId {
    fn from(id: &str) -> WriterId {
        WriterId::new(id)
    }
}

/// A writer id's JSON form is its text. Deserializing checks nothing: the
/// wire forms that carry ids (changes, pushes) check them as names (R11.6).
impl serde::Serialize for WriterId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for WriterId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Ok(WriterId::new(&text))
    }
}

impl WriterId {
    /// The byte order of SPEC R4.2, with a shortcut for two clones of one id.
    pub(crate) fn cmp_bytes(&self, other: &WriterId) -> Ordering {
        if Arc::ptr_eq(&self.0, &other.0) {
            return Ordering::Equal;
        }
        self.0.as_bytes().cmp(other.0.as_bytes())
    }
}

/// A register's version `(at, by)`: what field-LWW compares (SPEC R1, R4).
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct Version {
    /// When the value was written.
    pub at: Timestamp,
    /// Who wrote it.
    pub by: WriterId,
}

// SPEC R4.1-R4.2: versions order by `at`, and equal `at` by the writer id's
// bytes. Written by hand so that a reordering of the fields above can never
// change which write wins.
impl Ord for Version {
    fn cmp(&self, other: &Version) -> Ordering {
        self.at
            .cmp(&other.at)
            .then_with(|| self.by.cmp_bytes(&other.by))
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Version) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// What a writer overwrote: the witness of SPEC R6.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub enum Base {
    /// The writer sent no witness (a legacy writer: `base` absent on the
    /// wire). Conflicts fall back to the origin-and-hydration rule (SPEC R6.4).
    Legacy,
    /// The writer saw no earlier value of this field (`"base": null`).
    First,
    /// The writer overwrote exactly this version.
    Saw(Version),
}

impl Base {
    fn rank(&self) -> u8 {
        match self {
            Base::Legacy => 0,
            Base::First => 1,
            Base::Saw(_) => 2,
        }
    }

    // SPEC R4.3: the last tie-breaker of the register order.
    fn cmp_total(&self, other: &Base) -> Ordering {
        match (self, other) {
            (Base::Saw(a), Base::Saw(b)) => a.cmp(b),
            _ => self.rank().cmp(&other.rank()),
        }
    }
}

/// One field of a record: its value and metadata (SPEC R1).
#[derive(Clone, Debug)]
pub struct Register {
    /// The field's value; `null` is a value like any other.
    pub value: Value,
    /// When it was written.
    pub at: Timestamp,
    /// Who wrote it.
    pub by: WriterId,
    /// Through which pipeline it was written.
    pub origin: Origin,
    /// What its writer overwrote.
    pub base: Base,
}

// SPEC R4.3: two registers are the same register exactly when they are
// identical under the total order, so `1` and `1.0` are one value (R4.4)
// whatever the representation a caller built in memory.
impl PartialEq for Register {
    fn eq(&self, other: &Register) -> bool {
        self.cmp_total(other) == Ordering::Equal
    }
}

impl Register {
    /// The register's version `(at, by)`.
    pub fn version(&self) -> Version {
        Version {
            at: self.at,
            by: self.by.clone(),
        }
    }

    /// Whether `self` has the version `(at, by)`, without building a [`Version`].
    pub fn has_version(&self, version: &Version) -> bool {
        self.at == version.at && self.by == version.by
    }

    /// The version part of the order: `(at, by)` (SPEC R4.1-R4.2).
    pub fn cmp_version(&self, other: &Register) -> Ordering {
        self.at
            .cmp(&other.at)
            .then_with(|| self.by.cmp_bytes(&other.by))
    }

    /// The total order of SPEC R4: version first; between malformed twins
    /// (equal version, different content) the value by [`cmp_values`], then
    /// the origin, then the base. Two registers compare equal only when they
    /// are identical, so merge never depends on argument order.
    pub fn cmp_total(&self, other: &Register) -> Ordering {
        self.cmp_version(other).then_with(|| self.cmp_twin(other))
    }

    /// The rest of [`Register::cmp_total`] once the versions are equal.
    pub(crate) fn cmp_twin(&self, other: &Register) -> Ordering {
        cmp_values(&self.value, &other.value)
            .then_with(|| self.origin.rank().cmp(&other.origin.rank()))
            .then_with(|| self.base.cmp_total(&other.base))
    }

    /// Field-LWW: the greater of two registers under [`Register::cmp_total`]
    /// (SPEC R4). Commutative, associative and idempotent.
    ///
    /// # Example
    /// ```
    /// use fieldmerge::{Base, Origin, Register, Timestamp, WriterId};
    /// let reg = |ms, by: &str| Register {
    ///     value: serde_json::json!(by),
    ///     at: Timestamp::from_ms(ms).unwrap(),
    ///     by: WriterId::new(by),
    ///     origin: Origin::User,
    ///     base: Base::First,
    /// };
    /// // Equal `at`: the writer id decides.
    /// assert_eq!(reg(5, "a").merge(reg(5, "b")).by.as_str(), "b");
    /// assert_eq!(reg(6, "a").merge(reg(5, "b")).by.as_str(), "a");
    /// ```
    pub fn merge(self, other: Register) -> Register {
        if other.cmp_total(&self) == Ordering::Greater {
            other
        } else {
            self
        }
    }
}
