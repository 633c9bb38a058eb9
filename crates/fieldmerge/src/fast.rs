//! The message readers' fast path (issue #13): a page or a push in the
//! common shape,
//! read straight into changes without building a `Value` tree for their
//! structure. It accepts only what the one reader (R11.7) and
//! `Change::from_wire` (R11) accept, and gives up (`None`) at anything
//! else, however harmless: a member it does not expect, an escape in a
//! name, a counter spelt `3.0`, an extension slot, any fault. The slow path
//! then reads the page and says exactly what is wrong, so the two can
//! never disagree on an error; a law checks they agree on every page the
//! fast path reads.

use std::sync::Arc;

use serde_json::Value;

use crate::change::{check_field, check_name, Change, Op, FIELDS_PER_CHANGE_MAX, NAME_BYTES_MAX};
use crate::number::SAFE_INTEGER_MAX;
use crate::origin::Origin;
use crate::protocol::{Page, Push};
use crate::record::RecordKey;
use crate::register::{Base, Register, Version, WriterId};
use crate::text::value_at;
use crate::timestamp::Timestamp;

/// Reads `bytes` as a page whose every entry is a valid change, or `None`.
pub(crate) fn read_page(bytes: &[u8]) -> Option<Page> {
    let (mut after, mut head, mut changes, mut log) = (None, None, None, None);
    Fast::document(bytes, |p, name| {
        match name {
            "after" if after.is_none() => after = Some(p.counter()?),
            "head" if head.is_none() => head = Some(p.counter()?),
            "changes" if changes.is_none() => changes = Some(p.changes()?),
            "log" if log.is_none() => {
                let name = p.string()?;
                check_name(name, "log").ok()?;
                log = Some(name.to_owned());
            }
            _ => return None,
        }
        Some(())
    })?;
    Some(Page::new(after?, changes?, head?).with_log(log))
}

/// Reads `bytes` as a push whose every change is valid, or `None`.
pub(crate) fn read_push(bytes: &[u8]) -> Option<Push> {
    let (mut client_id, mut changes, mut cursor, mut clock_epoch) = (None, None, None, None);
    Fast::document(bytes, |p, name| {
        match name {
            "client_id" if client_id.is_none() => {
                let id = p.string()?;
                check_name(id, "client_id").ok()?;
                client_id = Some(WriterId::new(id));
            }
            "changes" if changes.is_none() => changes = Some(p.changes()?),
            "cursor" if cursor.is_none() => cursor = Some(p.counter()?),
            "clock_epoch" if clock_epoch.is_none() => clock_epoch = Some(p.counter()?),
            _ => return None,
        }
        Some(())
    })?;
    Some(Push {
        client_id: client_id?,
        changes: changes?,
        cursor: cursor.unwrap_or(0),
        clock_epoch: clock_epoch.unwrap_or(0),
    })
}

// A register's metadata as read: `at`, `origin`, `by`, `base`.
struct Meta<'a> {
    at: Timestamp,
    origin: Origin,
    by: Option<&'a str>,
    base: Base,
}

struct Fast<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Fast<'a> {
    // A whole text that is one object, each member passed to `member`.
    fn document(
        bytes: &'a [u8],
        member: impl FnMut(&mut Self, &'a str) -> Option<()>,
    ) -> Option<()> {
        let mut p = Fast { b: bytes, pos: 0 };
        p.members(member)?;
        p.ws();
        (p.pos == bytes.len()).then_some(())
    }

    fn changes(&mut self) -> Option<Vec<Change>> {
        self.eat(b'[')?;
        let mut changes = Vec::new();
        self.ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Some(changes);
        }
        loop {
            changes.push(self.change()?);
            if self.close(b']')? {
                return Some(changes);
            }
        }
    }

    fn change(&mut self) -> Option<Change> {
        let (mut table, mut id, mut op, mut client_id) = (None, None, None, None);
        let (mut client_seq, mut server_seq) = (None, None);
        let (mut data, mut meta) = (None, None);
        self.members(|p, name| {
            match name {
                "table" if table.is_none() => table = Some(p.string()?),
                "id" if id.is_none() => id = Some(p.string()?),
                "client_id" if client_id.is_none() => client_id = Some(p.string()?),
                "op" if op.is_none() => {
                    op = Some(match p.string()? {
                        "insert" => Op::Insert,
                        "update" => Op::Update,
                        "delete" => Op::Delete,
                        _ => return None,
                    })
                }
                "client_seq" if client_seq.is_none() => client_seq = Some(p.counter()?),
                "server_seq" if server_seq.is_none() => server_seq = Some(p.counter()?),
                "data" if data.is_none() => data = Some(p.data()?),
                "field_meta" if meta.is_none() => meta = Some(p.field_meta()?),
                _ => return None,
            }
            Some(())
        })?;
        let (table, id, client_id) = (table?, id?, client_id?);
        for name in [table, id, client_id] {
            check_name(name, "name").ok()?;
        }
        let (data, meta) = (data?, meta?);
        if data.len() != meta.len() || data.len() > FIELDS_PER_CHANGE_MAX {
            return None;
        }
        let client_id = WriterId::new(client_id);
        let mut writes = Vec::with_capacity(data.len());
        for ((name, value), (meta_name, m)) in data.into_iter().zip(meta) {
            // A value that needed a canonical form would be rewritten by
            // `from_wire`; values read by the one reader never do.
            if name != meta_name || check_field(name, &value).ok()?.is_some() {
                return None;
            }
            let by = match m.by {
                None => client_id.clone(),
                Some(by) if by == client_id.as_str() => client_id.clone(),
                Some(by) => WriterId::new(by),
            };
            let register = Register {
                value,
                at: m.at,
                by,
                origin: m.origin,
                base: m.base,
            };
            writes.push((Arc::from(name), register));
        }
        let key = RecordKey::new(table, id);
        Change::from_checked_parts(key, op?, writes, client_id, (client_seq, server_seq))
    }

    // `data`: its members sorted by name bytes, each name once.
    fn data(&mut self) -> Option<Vec<(&'a str, Value)>> {
        let mut members = Vec::new();
        self.members(|p, name| {
            let (value, end) = value_at(p.b, p.pos)?;
            p.pos = end;
            members.push((name, value));
            Some(())
        })?;
        sorted_once(members)
    }

    fn field_meta(&mut self) -> Option<Vec<(&'a str, Meta<'a>)>> {
        let mut members = Vec::new();
        self.members(|p, name| {
            members.push((name, p.meta()?));
            Some(())
        })?;
        sorted_once(members)
    }

    fn meta(&mut self) -> Option<Meta<'a>> {
        let (mut at, mut origin, mut by, mut base) = (None, None, None, None);
        self.members(|p, name| {
            match name {
                "at" if at.is_none() => at = Some(Timestamp::parse(p.string()?).ok()?),
                "origin" if origin.is_none() => origin = Some(Origin::parse(p.string()?).ok()?),
                "by" if by.is_none() => {
                    let writer = p.string()?;
                    (writer.len() <= NAME_BYTES_MAX).then_some(())?;
                    by = Some(writer);
                }
                "base" if base.is_none() => base = Some(p.base()?),
                _ => return None,
            }
            Some(())
        })?;
        Some(Meta {
            at: at?,
            origin: origin?,
            by,
            base: base.unwrap_or(Base::Legacy),
        })
    }

    fn base(&mut self) -> Option<Base> {
        self.ws();
        if self.b[self.pos..].starts_with(b"null") {
            self.pos += 4;
            return Some(Base::First);
        }
        let (mut at, mut by) = (None, None);
        self.members(|p, name| {
            match name {
                "at" if at.is_none() => at = Some(Timestamp::parse(p.string()?).ok()?),
                "by" if by.is_none() => {
                    let writer = p.string()?;
                    (writer.len() <= NAME_BYTES_MAX).then_some(())?;
                    by = Some(WriterId::new(writer));
                }
                _ => return None,
            }
            Some(())
        })?;
        Some(Base::Saw(Version { at: at?, by: by? }))
    }

    // An object's members, each name read and passed to `member` with the
    // reader at its value.
    fn members(&mut self, mut member: impl FnMut(&mut Self, &'a str) -> Option<()>) -> Option<()> {
        self.ws();
        self.eat(b'{')?;
        self.ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Some(());
        }
        loop {
            self.ws();
            let name = self.string()?;
            self.colon()?;
            self.ws();
            member(self, name)?;
            if self.close(b'}')? {
                return Some(());
            }
        }
    }

    // A string without escapes or control characters, as it is in the text.
    fn string(&mut self) -> Option<&'a str> {
        self.ws();
        self.eat(b'"')?;
        let start = self.pos;
        loop {
            match *self.b.get(self.pos)? {
                b'"' => break,
                b'\\' => return None,
                b if b < 0x20 => return None,
                _ => self.pos += 1,
            }
        }
        let text = std::str::from_utf8(&self.b[start..self.pos]).ok()?;
        self.pos += 1;
        Some(text)
    }

    // A counter spelt as plain digits (R11.6), at most 2^53.
    fn counter(&mut self) -> Option<u64> {
        self.ws();
        let start = self.pos;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.pos += 1;
        }
        let digits = &self.b[start..self.pos];
        if digits.is_empty() || digits.len() > 16 || (digits.len() > 1 && digits[0] == b'0') {
            return None;
        }
        // A number goes on with `.`, `e` or `E`: not plain digits.
        if matches!(self.peek(), Some(b'.' | b'e' | b'E')) {
            return None;
        }
        let n = digits
            .iter()
            .fold(0u64, |n, d| n * 10 + u64::from(d - b'0'));
        (n <= SAFE_INTEGER_MAX).then_some(n)
    }

    fn colon(&mut self) -> Option<()> {
        self.ws();
        self.eat(b':')
    }

    // After a member or element: `,` (false) or the closing `end` (true).
    fn close(&mut self, end: u8) -> Option<bool> {
        self.ws();
        match self.peek()? {
            b',' => {
                self.pos += 1;
                Some(false)
            }
            c if c == end => {
                self.pos += 1;
                Some(true)
            }
            _ => None,
        }
    }

    fn eat(&mut self, c: u8) -> Option<()> {
        (self.peek()? == c).then(|| self.pos += 1)
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.pos).copied()
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }
}

// Members sorted by name bytes (the order of a change's writes), or `None`
// when a name is there twice.
fn sorted_once<T>(mut members: Vec<(&str, T)>) -> Option<Vec<(&str, T)>> {
    members.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    members
        .windows(2)
        .all(|w| w[0].0 != w[1].0)
        .then_some(members)
}
