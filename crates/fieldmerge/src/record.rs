//! A record: its key, its field registers, its last change and its shadow
//! sort index (SPEC R1, R7, R8, R9).

use std::sync::Arc;

use serde_json::{Map, Value};

use crate::classify::{decide, Context, Decision};
use crate::register::Register;
use crate::timestamp::Timestamp;

/// The field that holds a record's tombstone (SPEC R9): a non-null value
/// means the record is deleted.
pub const TOMBSTONE_FIELD: &str = "deletedAt";
/// The local-only shadow sort column (SPEC R8); it never travels in a change.
pub const SHADOW_FIELD: &str = "_updatedAtIndex";
/// The stored-row key of the per-field metadata map (SPEC R7).
pub const FIELD_META_KEY: &str = "__fieldMeta";

/// Where a record lives: its table and its id. Its JSON form is
/// `{"table": ..., "id": ...}`.
#[derive(
    Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, serde::Serialize, serde::Deserialize,
)]
#[serde(deny_unknown_fields)]
pub struct RecordKey {
    /// The table, such as `tasks`.
    pub table: String,
    /// The record's id within the table.
    pub id: String,
}

impl RecordKey {
    /// The key `(table, id)`.
    pub fn new(table: &str, id: &str) -> RecordKey {
        RecordKey {
            table: table.to_owned(),
            id: id.to_owned(),
        }
    }

    /// The key of the singleton of `kind` for `scope` (a user id or a space
    /// id): table `kind`, id `"{kind}:{scope}"` (SPEC R10.2). Client
    /// placeholders and server bootstrap rows derive the same key.
    ///
    /// # Example
    /// ```
    /// use fieldmerge::RecordKey;
    /// let key = RecordKey::singleton("userContext", "user-1");
    /// assert_eq!((key.table.as_str(), key.id.as_str()), ("userContext", "userContext:user-1"));
    /// ```
    pub fn singleton(kind: &str, scope: &str) -> RecordKey {
        RecordKey {
            table: kind.to_owned(),
            id: format!("{kind}:{scope}"),
        }
    }
}

impl std::fmt::Display for RecordKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.table, self.id)
    }
}

/// A record: a map from field name to [`Register`], kept sorted by field name,
/// plus the shadow sort index (SPEC R8).
#[derive(Clone, PartialEq, Debug, Default)]
pub struct Record {
    // Sorted by name, names unique: a merge of two records is a merge join.
    fields: Vec<(Arc<str>, Register)>,
    updated_at_index: Option<Timestamp>,
}

impl Record {
    /// An empty record.
    pub fn new() -> Record {
        Record::default()
    }

    /// The registers, in field-name byte order.
    pub fn fields(&self) -> impl Iterator<Item = (&str, &Register)> + '_ {
        self.fields.iter().map(|(name, reg)| (&**name, reg))
    }

    /// The registers with their shared names, for merges that keep sharing
    /// them.
    pub(crate) fn fields_shared(&self) -> &[(Arc<str>, Register)] {
        &self.fields
    }

    /// The register of `name`, if the field was ever written.
    pub fn field(&self, name: &str) -> Option<&Register> {
        self.position(name).ok().map(|i| &self.fields[i].1)
    }

    /// How many fields the record has.
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// Whether the record has no field at all.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// The record's last change: the greatest `at` over its registers, the
    /// tombstone included; `None` for a record with no register (SPEC R7).
    pub fn derive_updated_at(&self) -> Option<Timestamp> {
        self.fields.iter().map(|(_, reg)| reg.at).max()
    }

    /// The shadow sort index (SPEC R8). Equal to [`Record::derive_updated_at`]
    /// after every write and apply; local-only, never sent.
    pub fn updated_at_index(&self) -> Option<Timestamp> {
        self.updated_at_index
    }

    /// Whether the record is deleted: its tombstone holds a non-null value
    /// (SPEC R9.1).
    pub fn is_deleted(&self) -> bool {
        self.field(TOMBSTONE_FIELD)
            .is_some_and(|reg| !reg.value.is_null())
    }

    /// The record's data as a JSON object: every field's value, tombstone
    /// included, no metadata.
    pub fn values(&self) -> Map<String, Value> {
        self.fields
            .iter()
            .map(|(name, reg)| (name.to_string(), reg.value.clone()))
            .collect()
    }

    /// Merges one incoming register into the field `name` (SPEC R4, R6) and
    /// returns the decision; when the incoming register won, the register it
    /// replaced is returned too, so the loser stays reachable.
    pub fn merge_register(
        &mut self,
        name: &str,
        incoming: &Register,
        context: impl Into<Context>,
    ) -> (Decision, Option<Register>) {
        let context = context.into();
        self.merge_register_from(&mut 0, name, || Arc::from(name), incoming, |_| context)
    }

    /// [`Record::merge_register`] for a run of writes sorted by name: the
    /// search starts at `*from`, which is left just past the merged field, so
    /// a sorted run costs one comparison per field when the names match.
    /// `name_arc` gives the name's shared allocation, taken only when the
    /// field is new, so a record shares its names with the change that
    /// created it instead of copying them. `context` gives the decision's
    /// context from the current register, asked only when there is one.
    pub(crate) fn merge_register_from(
        &mut self,
        from: &mut usize,
        name: &str,
        name_arc: impl FnOnce() -> Arc<str>,
        incoming: &Register,
        context: impl FnOnce(&Register) -> Context,
    ) -> (Decision, Option<Register>) {
        let start = (*from).min(self.fields.len());
        let found = match self.fields.get(start) {
            Some((field, _)) if &**field == name => Ok(start),
            _ => self.fields[start..]
                .binary_search_by(|(field, _)| field.as_bytes().cmp(name.as_bytes()))
                .map(|i| start + i)
                .map_err(|i| start + i),
        };
        debug_assert!(
            found.unwrap_or_else(|i| i) == self.position(name).unwrap_or_else(|i| i),
            "writes of one run come sorted by name"
        );
        match found {
            Ok(i) => {
                *from = i + 1;
                let current = &self.fields[i].1;
                let decision = decide(Some(current), incoming, context(current));
                if !decision.incoming_won() {
                    return (decision, None);
                }
                let loser = std::mem::replace(&mut self.fields[i].1, incoming.clone());
                self.bump_index(incoming.at);
                (decision, Some(loser))
            }
            Err(i) => {
                *from = i + 1;
                self.fields.insert(i, (name_arc(), incoming.clone()));
                self.bump_index(incoming.at);
                (Decision::Insert, None)
            }
        }
    }

    /// Stores every field name that `names` (sorted, as a record's are) also
    /// holds as `names`' allocation, so records share their names.
    pub(crate) fn share_names(&mut self, names: &[Arc<str>]) {
        let mut theirs = names.iter().peekable();
        for (name, _) in &mut self.fields {
            while theirs
                .next_if(|other| other.as_bytes() < name.as_bytes())
                .is_some()
            {}
            if let Some(other) = theirs.next_if(|other| other.as_bytes() == name.as_bytes()) {
                *name = Arc::clone(other);
            }
        }
    }

    /// Reserves room for `additional` more fields: a record created by a
    /// change gets exactly the room it needs, not a doubling's slack.
    pub(crate) fn reserve_exact(&mut self, additional: usize) {
        self.fields.reserve_exact(additional);
    }

    /// State-based merge (SPEC R4.5): every field becomes the greater of the
    /// two registers. Commutative, associative and idempotent; the shadow
    /// index follows.
    pub fn merge(&mut self, other: &Record) {
        let mut merged = Vec::with_capacity(self.fields.len().max(other.fields.len()));
        let mut mine = std::mem::take(&mut self.fields).into_iter().peekable();
        let mut theirs = other.fields.iter().peekable();
        loop {
            let ord = match (mine.peek(), theirs.peek()) {
                (Some((a, _)), Some((b, _))) => a.as_bytes().cmp(b.as_bytes()),
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (None, None) => break,
            };
            match ord {
                std::cmp::Ordering::Less => merged.extend(mine.next()),
                std::cmp::Ordering::Greater => merged.extend(theirs.next().cloned()),
                std::cmp::Ordering::Equal => {
                    if let (Some((name, a)), Some((_, b))) = (mine.next(), theirs.next()) {
                        let winner = if b.cmp_total(&a) == std::cmp::Ordering::Greater {
                            b.clone()
                        } else {
                            a
                        };
                        merged.push((name, winner));
                    }
                }
            }
        }
        self.fields = merged;
        self.refresh_index();
    }

    /// Recomputes the shadow index from the registers.
    pub(crate) fn refresh_index(&mut self) {
        self.updated_at_index = self.derive_updated_at();
    }

    /// Replaces a field's register without deciding: only for the clock
    /// correction of pending local writes (SPEC R12.4), whose registers are
    /// the replica's own.
    pub(crate) fn replace_register(&mut self, name: &str, register: Register) {
        if let Ok(i) = self.position(name) {
            self.fields[i].1 = register;
        }
    }

    /// Builds a record from registers, for decoding a stored state.
    pub(crate) fn from_registers(
        registers: impl IntoIterator<Item = (String, Register)>,
        updated_at_index: Option<Timestamp>,
    ) -> Record {
        let mut fields: Vec<(Arc<str>, Register)> = registers
            .into_iter()
            .map(|(name, reg)| (Arc::from(name.as_str()), reg))
            .collect();
        fields.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        fields.dedup_by(|a, b| a.0 == b.0);
        Record {
            fields,
            updated_at_index,
        }
    }

    fn bump_index(&mut self, at: Timestamp) {
        // Registers only ever give way to greater versions, so the running
        // maximum equals the derived maximum (SPEC R8).
        self.updated_at_index = Some(self.updated_at_index.map_or(at, |index| index.max(at)));
    }

    fn position(&self, name: &str) -> Result<usize, usize> {
        self.fields
            .binary_search_by(|(field, _)| field.as_bytes().cmp(name.as_bytes()))
    }
}

/// `deriveUpdatedAt` over a stored row in the JSON shape of the system this
/// replaces: the greatest parseable `at` in its `__fieldMeta` map; for a
/// legacy row without metadata, its `updatedAt` when that parses; otherwise
/// `None`. Never panics, whatever the row holds (SPEC R7.2).
///
/// # Example
/// ```
/// use fieldmerge::{derive_updated_at, Timestamp};
/// use serde_json::json;
/// let row = json!({"title": "a", "__fieldMeta": {
///     "title": {"at": "2026-04-26T10:00:00.000Z", "origin": "user"},
///     "done": {"at": "2026-04-26T11:00:00.000Z", "origin": "user"}}});
/// assert_eq!(derive_updated_at(&row), Some(Timestamp::parse("2026-04-26T11:00:00.000Z").unwrap()));
/// assert_eq!(derive_updated_at(&json!({"updatedAt": "2026-01-01T00:00:00.000Z"})).map(|t| t.to_string()),
///            Some("2026-01-01T00:00:00.000Z".to_owned()));
/// assert_eq!(derive_updated_at(&json!(null)), None);
/// ```
pub fn derive_updated_at(row: &Value) -> Option<Timestamp> {
    let meta_max = row
        .get(FIELD_META_KEY)
        .and_then(Value::as_object)
        .and_then(|meta| {
            meta.values()
                .filter_map(|m| m.get("at").and_then(Value::as_str))
                .filter_map(|at| Timestamp::parse(at).ok())
                .max()
        });
    meta_max.or_else(|| {
        row.get("updatedAt")
            .and_then(Value::as_str)
            .and_then(|at| Timestamp::parse(at).ok())
    })
}
