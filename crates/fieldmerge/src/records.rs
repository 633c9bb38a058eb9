//! A read-only view of a set of records, in key order: what a replica or
//! the in-memory server lets a caller see of its records without exposing
//! how they are stored (the layout may change; this view does not).

use std::collections::BTreeMap;

use crate::record::{Record, RecordKey};

/// The records of a replica or of the in-memory server, in key order.
#[derive(Clone, Copy, Debug)]
pub struct Records<'a>(&'a BTreeMap<RecordKey, Record>);

impl<'a> Records<'a> {
    pub(crate) fn new(map: &'a BTreeMap<RecordKey, Record>) -> Records<'a> {
        Records(map)
    }

    /// The record at `key`.
    pub fn get(&self, key: &RecordKey) -> Option<&'a Record> {
        self.0.get(key)
    }

    /// Whether a record lives at `key`.
    pub fn contains(&self, key: &RecordKey) -> bool {
        self.0.contains_key(key)
    }

    /// How many records there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Every record with its key, in key order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&'a RecordKey, &'a Record)> + 'a {
        self.0.iter()
    }

    /// Every key, in order.
    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &'a RecordKey> + 'a {
        self.0.keys()
    }

    /// Every record, in key order.
    pub fn values(&self) -> impl DoubleEndedIterator<Item = &'a Record> + 'a {
        self.0.values()
    }
}

impl<'a> IntoIterator for Records<'a> {
    type Item = (&'a RecordKey, &'a Record);
    type IntoIter = std::collections::btree_map::Iter<'a, RecordKey, Record>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl PartialEq for Records<'_> {
    fn eq(&self, other: &Records<'_>) -> bool {
        self.0 == other.0
    }
}
