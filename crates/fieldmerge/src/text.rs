//! JSON text in and out (SPEC R11.7): one reader of I-JSON text (RFC 7493)
//! for every message, state and value the kernel reads, and one canonical
//! writer.
//!
//! The reader is iterative, so hostile nesting never recurses; it refuses a
//! member twice in one object (`duplicate_member`: two readers would keep
//! different ones), a lone surrogate escape, and a number that is not a
//! closest shortest decimal of its binary64 (`bad_number`, R4.4). Every
//! fault names its byte offset and the path to it, so an error can name
//! the change and the field. `serde_json`'s parser can do none of this
//! without features that would change it for every crate in a user's build.

use serde_json::{Map, Value};

use crate::json::VALUE_DEPTH_MAX;
use crate::number::{canonical, read_number, write_number, SAFE_INTEGER_MAX};

/// Why a text was refused, and where.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Fault {
    /// The byte offset of the fault.
    pub at: usize,
    /// The array indexes and object keys leading to the fault, outermost
    /// first.
    pub path: Vec<PathStep>,
    /// What was wrong.
    pub kind: FaultKind,
}

/// One step of a [`Fault`]'s path.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum PathStep {
    /// An array element, by position.
    Index(usize),
    /// An object member, by key.
    Key(String),
}

/// What a [`Fault`] found.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum FaultKind {
    /// Not JSON text: what was expected.
    Syntax(&'static str),
    /// Nested deeper than the document allows.
    TooDeep,
    /// A member name twice in one object.
    DuplicateMember(String),
    /// A number that would round (R4.4): its text.
    BadNumber(String),
}

impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.kind {
            FaultKind::Syntax(what) => write!(f, "{what} at byte {}", self.at),
            FaultKind::TooDeep => write!(
                f,
                "nested deeper than {VALUE_DEPTH_MAX} levels of value at byte {}",
                self.at
            ),
            FaultKind::DuplicateMember(name) => write!(
                f,
                "member {:?} appears twice at byte {}",
                bounded(name),
                self.at
            ),
            FaultKind::BadNumber(text) => write!(
                f,
                "number {} is not the shortest decimal of a binary64 at byte {}",
                bounded(text),
                self.at
            ),
        }
    }
}

/// Reads JSON text whose values sit up to `wrappers` levels deep inside
/// the document's own structure (SPEC R11.7), into `T`.
pub(crate) fn parse_bounded<T: serde::de::DeserializeOwned>(
    bytes: &[u8],
    wrappers: usize,
) -> Result<T, ParseError> {
    let value = read(bytes, wrappers).map_err(ParseError::Text)?;
    T::deserialize(value).map_err(|e| ParseError::Shape(e.to_string()))
}

/// Why [`parse_bounded`] refused a text.
#[derive(Debug)]
pub(crate) enum ParseError {
    /// Not I-JSON text, too deep, a member twice, a number that would
    /// round: where and what.
    Text(Fault),
    /// JSON, but not of the expected shape: the deserializer's message.
    Shape(String),
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ParseError::Text(fault) => fault.fmt(f),
            ParseError::Shape(message) => f.write_str(message),
        }
    }
}

/// The most of any input an error quotes (SPEC R11.5).
pub(crate) const ECHO_BYTES_MAX: usize = 256;

/// At most the first [`ECHO_BYTES_MAX`] bytes of `text` (on a character boundary): what
/// an error echoes of input, so a 10 MB name makes a short error, not a
/// 20 MB one (SPEC R11.5).
pub(crate) fn bounded(text: &str) -> String {
    let mut end = text.len().min(ECHO_BYTES_MAX);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

enum Frame {
    Array(Vec<Value>),
    Object(Map<String, Value>, String),
}

/// Reads one JSON text whose values sit up to `wrappers` levels deep
/// inside the document's own structure (a batch array, a change, its
/// `data`), so every value nested at most [`VALUE_DEPTH_MAX`] levels reads
/// and nothing deeper does (R11.6). Numbers come out canonical (R4.4).
pub(crate) fn read(bytes: &[u8], wrappers: usize) -> Result<Value, Fault> {
    Reader {
        bytes,
        pos: 0,
        stack: Vec::new(),
        depth_max: VALUE_DEPTH_MAX + wrappers,
    }
    .document()
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    stack: Vec<Frame>,
    depth_max: usize,
}

impl Reader<'_> {
    fn document(mut self) -> Result<Value, Fault> {
        let value = self.value()?;
        self.skip_ws();
        if self.pos < self.bytes.len() {
            return Err(self.fault(FaultKind::Syntax("trailing characters")));
        }
        Ok(value)
    }

    fn value(&mut self) -> Result<Value, Fault> {
        'open: loop {
            self.skip_ws();
            let mut value = match self.peek() {
                Some(b'[') => {
                    self.open(Frame::Array(Vec::new()))?;
                    self.skip_ws();
                    if self.peek() == Some(b']') {
                        self.pos += 1;
                        self.stack.pop();
                        Value::Array(Vec::new())
                    } else {
                        continue 'open;
                    }
                }
                Some(b'{') => {
                    self.open(Frame::Object(Map::new(), String::new()))?;
                    self.skip_ws();
                    if self.peek() == Some(b'}') {
                        self.pos += 1;
                        self.stack.pop();
                        Value::Object(Map::new())
                    } else {
                        self.key()?;
                        continue 'open;
                    }
                }
                Some(b'"') => Value::String(self.string()?),
                Some(b't') => self.literal("true", Value::Bool(true))?,
                Some(b'f') => self.literal("false", Value::Bool(false))?,
                Some(b'n') => self.literal("null", Value::Null)?,
                Some(b'-' | b'0'..=b'9') => self.number()?,
                Some(_) => return Err(self.fault(FaultKind::Syntax("expected a value"))),
                None => return Err(self.fault(FaultKind::Syntax("unexpected end of text"))),
            };
            // Close every container the value completes.
            loop {
                let at = self.pos;
                match self.stack.last_mut() {
                    None => return Ok(value),
                    Some(Frame::Array(items)) => items.push(value),
                    Some(Frame::Object(members, key)) => {
                        // One search: the name is new, or named twice.
                        match members.entry(std::mem::take(key)) {
                            serde_json::map::Entry::Vacant(slot) => {
                                slot.insert(value);
                            }
                            serde_json::map::Entry::Occupied(slot) => {
                                // The fault's path ends at the member named
                                // twice.
                                let name = slot.key().clone();
                                if let Some(Frame::Object(_, key)) = self.stack.last_mut() {
                                    key.clone_from(&name);
                                }
                                return Err(Fault {
                                    at,
                                    path: self.path(),
                                    kind: FaultKind::DuplicateMember(name),
                                });
                            }
                        }
                    }
                }
                self.skip_ws();
                let is_array = matches!(self.stack.last(), Some(Frame::Array(_)));
                match (self.peek(), is_array) {
                    (Some(b','), true) => {
                        self.pos += 1;
                        continue 'open;
                    }
                    (Some(b','), false) => {
                        self.pos += 1;
                        self.skip_ws();
                        self.key()?;
                        continue 'open;
                    }
                    (Some(b']'), true) | (Some(b'}'), false) => {
                        self.pos += 1;
                        value = match self.stack.pop() {
                            Some(Frame::Array(items)) => Value::Array(items),
                            Some(Frame::Object(members, _)) => Value::Object(members),
                            None => return Err(self.fault(FaultKind::Syntax("unbalanced"))),
                        };
                    }
                    (_, true) => return Err(self.fault(FaultKind::Syntax("expected , or ]"))),
                    (_, false) => return Err(self.fault(FaultKind::Syntax("expected , or }"))),
                }
            }
        }
    }

    fn open(&mut self, frame: Frame) -> Result<(), Fault> {
        if self.stack.len() >= self.depth_max {
            return Err(self.fault(FaultKind::TooDeep));
        }
        self.pos += 1;
        self.stack.push(frame);
        Ok(())
    }

    /// Reads an object member's name and its colon.
    fn key(&mut self) -> Result<(), Fault> {
        if self.peek() != Some(b'"') {
            return Err(self.fault(FaultKind::Syntax("expected a member name")));
        }
        let name = self.string()?;
        if let Some(Frame::Object(_, key)) = self.stack.last_mut() {
            *key = name;
        }
        self.skip_ws();
        if self.peek() != Some(b':') {
            return Err(self.fault(FaultKind::Syntax("expected :")));
        }
        self.pos += 1;
        Ok(())
    }

    fn literal(&mut self, word: &'static str, value: Value) -> Result<Value, Fault> {
        if self.bytes[self.pos..].starts_with(word.as_bytes()) {
            self.pos += word.len();
            Ok(value)
        } else {
            Err(self.fault(FaultKind::Syntax("expected a value")))
        }
    }

    fn number(&mut self) -> Result<Value, Fault> {
        let start = self.pos;
        self.pos = number_end(self.bytes, start).map_err(|at| {
            self.pos = at;
            self.fault(FaultKind::Syntax("expected a digit"))
        })?;
        // The token is ASCII by the grammar above.
        let token = String::from_utf8_lossy(&self.bytes[start..self.pos]);
        match read_number(&token).and_then(canonical) {
            Some(n) => Ok(Value::Number(n)),
            None => Err(Fault {
                at: start,
                path: self.path(),
                kind: FaultKind::BadNumber(token.into_owned()),
            }),
        }
    }

    fn string(&mut self) -> Result<String, Fault> {
        self.pos += 1; // the opening quote
        let mut out = String::new();
        loop {
            let run = self.pos;
            while let Some(&b) = self.bytes.get(self.pos) {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.pos += 1;
            }
            match std::str::from_utf8(&self.bytes[run..self.pos]) {
                Ok(text) => out.push_str(text),
                Err(e) => {
                    self.pos = run + e.valid_up_to();
                    return Err(self.fault(FaultKind::Syntax("invalid UTF-8")));
                }
            }
            match self.peek() {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.pos += 1;
                    out.push(self.escape()?);
                }
                Some(_) => return Err(self.fault(FaultKind::Syntax("control character in string"))),
                None => return Err(self.fault(FaultKind::Syntax("unterminated string"))),
            }
        }
    }

    fn escape(&mut self) -> Result<char, Fault> {
        let c = match self.peek() {
            Some(b'"') => '"',
            Some(b'\\') => '\\',
            Some(b'/') => '/',
            Some(b'b') => '\u{8}',
            Some(b'f') => '\u{c}',
            Some(b'n') => '\n',
            Some(b'r') => '\r',
            Some(b't') => '\t',
            Some(b'u') => {
                let at = self.pos - 1;
                self.pos += 1;
                let unit = self.hex4()?;
                let code = match unit {
                    0xD800..=0xDBFF if self.bytes[self.pos..].starts_with(b"\\u") => {
                        self.pos += 2;
                        let low = self.hex4()?;
                        if !(0xDC00..=0xDFFF).contains(&low) {
                            return Err(self.fault_at(at, FaultKind::Syntax("lone surrogate")));
                        }
                        0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)
                    }
                    _ => unit,
                };
                // Any other surrogate is alone: no char has its code.
                return char::from_u32(code)
                    .ok_or_else(|| self.fault_at(at, FaultKind::Syntax("lone surrogate")));
            }
            _ => return Err(self.fault(FaultKind::Syntax("invalid escape"))),
        };
        self.pos += 1;
        Ok(c)
    }

    fn hex4(&mut self) -> Result<u32, Fault> {
        let mut unit = 0;
        for _ in 0..4 {
            let digit = self
                .peek()
                .and_then(|b| char::from(b).to_digit(16))
                .ok_or_else(|| self.fault(FaultKind::Syntax("invalid escape")))?;
            unit = unit * 16 + digit;
            self.pos += 1;
        }
        Ok(unit)
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn path(&self) -> Vec<PathStep> {
        self.stack
            .iter()
            .map(|frame| match frame {
                Frame::Array(items) => PathStep::Index(items.len()),
                Frame::Object(_, key) => PathStep::Key(key.clone()),
            })
            .collect()
    }

    fn fault(&self, kind: FaultKind) -> Fault {
        self.fault_at(self.pos, kind)
    }

    fn fault_at(&self, at: usize, kind: FaultKind) -> Fault {
        Fault {
            at,
            path: self.path(),
            kind,
        }
    }
}

/// Where the number that starts at `start` ends, by RFC 8259's grammar
/// (`-`? int frac? exp?), or the offset where a digit was expected. The one
/// grammar of both the reader and the scanner of entries.
fn number_end(bytes: &[u8], start: usize) -> Result<usize, usize> {
    let digits = |mut pos: usize| {
        let from = pos;
        while matches!(bytes.get(pos), Some(b'0'..=b'9')) {
            pos += 1;
        }
        (pos > from).then_some(pos).ok_or(pos)
    };
    let mut pos = start;
    if bytes.get(pos) == Some(&b'-') {
        pos += 1;
    }
    pos = match bytes.get(pos) {
        Some(b'0') => pos + 1,
        Some(b'1'..=b'9') => digits(pos)?,
        _ => return Err(pos),
    };
    if bytes.get(pos) == Some(&b'.') {
        pos = digits(pos + 1)?;
    }
    if matches!(bytes.get(pos), Some(b'e' | b'E')) {
        pos += 1;
        if matches!(bytes.get(pos), Some(b'+' | b'-')) {
            pos += 1;
        }
        pos = digits(pos)?;
    }
    Ok(pos)
}

/// Reads one JSON value at `pos` by the one reader's rules (R11.7), nested
/// at most [`VALUE_DEPTH_MAX`] levels: the value and the position after
/// it, or `None` at any fault (the caller's slow path then says which).
pub(crate) fn value_at(bytes: &[u8], pos: usize) -> Option<(Value, usize)> {
    let mut reader = Reader {
        bytes,
        pos,
        stack: Vec::new(),
        depth_max: VALUE_DEPTH_MAX,
    };
    let value = reader.value().ok()?;
    Some((value, reader.pos))
}

/// Where the entries of one array sit in a JSON text (SPEC R12.6): the
/// array under the member names of `path` (from the top-level object down;
/// an empty path is a top-level array), as byte ranges, so each entry can
/// be read, and refused, on its own.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Entries {
    /// The array's own range, brackets included.
    pub array: std::ops::Range<usize>,
    /// Each element's range, in order.
    pub elements: Vec<std::ops::Range<usize>>,
}

impl Entries {
    /// The text with the array emptied (`[]`): what is left to read
    /// strictly, and how to map an offset in it back to the text.
    pub(crate) fn envelope(&self, bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(bytes.len() - self.array.len() + 2);
        out.extend_from_slice(&bytes[..self.array.start]);
        out.extend_from_slice(b"[]");
        out.extend_from_slice(&bytes[self.array.end..]);
        out
    }

    /// The offset in the text of offset `at` of [`Entries::envelope`].
    pub(crate) fn text_offset(&self, at: usize) -> usize {
        if at >= self.array.start + 2 {
            at - 2 + self.array.len()
        } else {
            at
        }
    }
}

/// Finds the entries of the array at `path` (see [`Entries`]) by syntax
/// alone: no value is built and no number or member name is judged, so an
/// entry whose own text breaks R11.7 is found like any other. `None` when
/// the text holds no such array (the strict reader then says why).
///
/// # Errors
/// A syntax fault anywhere in the text: without its structure no entry
/// can be told from the next.
pub(crate) fn entries(bytes: &[u8], path: &[&str]) -> Result<Option<Entries>, Fault> {
    if let Err(e) = std::str::from_utf8(bytes) {
        return Err(Fault {
            at: e.valid_up_to(),
            path: Vec::new(),
            kind: FaultKind::Syntax("invalid UTF-8"),
        });
    }
    Scanner {
        bytes,
        pos: 0,
        path,
        stack: Vec::new(),
        found: None,
    }
    .scan()
}

// One open container of the scan: whether it lies on the path (and, for an
// object on the path, the name of the member being read), or is the target
// array.
enum Open {
    Object { on_path: bool, key: Option<String> },
    Array { target: bool },
}

struct Scanner<'a, 'p> {
    bytes: &'a [u8],
    pos: usize,
    path: &'p [&'p str],
    stack: Vec<Open>,
    found: Option<Entries>,
}

impl Scanner<'_, '_> {
    fn scan(mut self) -> Result<Option<Entries>, Fault> {
        'value: loop {
            self.skip_ws();
            let start = self.pos;
            // Where the value sits: on the path, the target array, or an
            // element of the target.
            let (on_path, is_target) = self.place();
            let element = matches!(self.stack.last(), Some(Open::Array { target: true }));
            match self.peek() {
                Some(b'[') => {
                    self.pos += 1;
                    let target = is_target && self.found.is_none();
                    if target {
                        self.found = Some(Entries {
                            array: start..start,
                            elements: Vec::new(),
                        });
                    }
                    self.element_start(element, start);
                    self.stack.push(Open::Array { target });
                    self.skip_ws();
                    if self.peek() != Some(b']') {
                        continue 'value;
                    }
                    self.pos += 1;
                    self.stack.pop();
                    self.array_closed(target);
                }
                Some(b'{') => {
                    self.pos += 1;
                    self.element_start(element, start);
                    self.stack.push(Open::Object { on_path, key: None });
                    self.skip_ws();
                    if self.peek() != Some(b'}') {
                        self.key()?;
                        continue 'value;
                    }
                    self.pos += 1;
                    self.stack.pop();
                }
                Some(b'"') => {
                    self.element_start(element, start);
                    self.string()?;
                }
                Some(b't') => {
                    self.element_start(element, start);
                    self.literal("true")?;
                }
                Some(b'f') => {
                    self.element_start(element, start);
                    self.literal("false")?;
                }
                Some(b'n') => {
                    self.element_start(element, start);
                    self.literal("null")?;
                }
                Some(b'-' | b'0'..=b'9') => {
                    self.element_start(element, start);
                    self.number()?;
                }
                Some(_) => return Err(self.fault("expected a value")),
                None => return Err(self.fault("unexpected end of text")),
            }
            // The value is complete: close what it completes.
            loop {
                self.element_end();
                self.skip_ws();
                match (self.peek(), self.stack.last()) {
                    (None, None) => return Ok(self.found),
                    (Some(_), None) => return Err(self.fault("trailing characters")),
                    (Some(b','), Some(Open::Array { .. })) => {
                        self.pos += 1;
                        continue 'value;
                    }
                    (Some(b','), Some(Open::Object { .. })) => {
                        self.pos += 1;
                        self.skip_ws();
                        self.key()?;
                        continue 'value;
                    }
                    (Some(b']'), Some(Open::Array { target })) => {
                        let target = *target;
                        self.pos += 1;
                        self.stack.pop();
                        self.array_closed(target);
                    }
                    (Some(b'}'), Some(Open::Object { .. })) => {
                        self.pos += 1;
                        self.stack.pop();
                    }
                    (_, Some(Open::Array { .. })) => return Err(self.fault("expected , or ]")),
                    (_, Some(Open::Object { .. })) => return Err(self.fault("expected , or }")),
                }
            }
        }
    }

    // Whether the value about to start lies on the path, and whether it
    // is the target array's place.
    fn place(&self) -> (bool, bool) {
        let depth = self.stack.len();
        match self.stack.last() {
            None => (!self.path.is_empty(), self.path.is_empty()),
            Some(Open::Object {
                on_path: true,
                key: Some(key),
            }) => {
                let parent = depth - 1;
                let matches = self.path.get(parent) == Some(&key.as_str());
                (
                    matches && parent + 1 < self.path.len(),
                    matches && parent + 1 == self.path.len(),
                )
            }
            Some(_) => (false, false),
        }
    }

    fn element_start(&mut self, element: bool, start: usize) {
        if let (true, Some(found)) = (element, self.found.as_mut()) {
            found.elements.push(start..start);
        }
    }

    // After a value completes: when its container is the target array,
    // the last element ends here.
    fn element_end(&mut self) {
        if let (Some(Open::Array { target: true }), Some(found)) =
            (self.stack.last(), self.found.as_mut())
        {
            if let Some(last) = found.elements.last_mut() {
                if last.end == last.start {
                    last.end = self.pos;
                }
            }
        }
    }

    // The target array closed at `self.pos`.
    fn array_closed(&mut self, target: bool) {
        if let (true, Some(found)) = (target, self.found.as_mut()) {
            found.array.end = self.pos;
        }
    }

    // Reads a member name and its colon; an object on the path remembers
    // the name, unescaped, to place the member's value.
    fn key(&mut self) -> Result<(), Fault> {
        if self.peek() != Some(b'"') {
            return Err(self.fault("expected a member name"));
        }
        let start = self.pos;
        self.string()?;
        if let Some(Open::Object { on_path: true, key }) = self.stack.last_mut() {
            let mut reader = Reader {
                bytes: self.bytes,
                pos: start,
                stack: Vec::new(),
                depth_max: 0,
            };
            // A name that does not unescape (a lone surrogate) names no
            // member of the path.
            *key = reader.string().ok();
        }
        self.skip_ws();
        if self.peek() != Some(b':') {
            return Err(self.fault("expected :"));
        }
        self.pos += 1;
        Ok(())
    }

    fn string(&mut self) -> Result<(), Fault> {
        self.pos += 1;
        loop {
            match self.peek() {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(());
                }
                Some(b'\\') => {
                    self.pos += 1;
                    match self.peek() {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => {
                            self.pos += 1
                        }
                        Some(b'u') => {
                            self.pos += 1;
                            for _ in 0..4 {
                                if !self.peek().is_some_and(|b| b.is_ascii_hexdigit()) {
                                    return Err(self.fault("invalid escape"));
                                }
                                self.pos += 1;
                            }
                        }
                        _ => return Err(self.fault("invalid escape")),
                    }
                }
                Some(b) if b < 0x20 => return Err(self.fault("control character in string")),
                Some(_) => self.pos += 1,
                None => return Err(self.fault("unterminated string")),
            }
        }
    }

    fn literal(&mut self, word: &'static str) -> Result<(), Fault> {
        if self.bytes[self.pos..].starts_with(word.as_bytes()) {
            self.pos += word.len();
            Ok(())
        } else {
            Err(self.fault("expected a value"))
        }
    }

    fn number(&mut self) -> Result<(), Fault> {
        self.pos = number_end(self.bytes, self.pos).map_err(|at| {
            self.pos = at;
            self.fault("expected a digit")
        })?;
        Ok(())
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn fault(&self, what: &'static str) -> Fault {
        Fault {
            at: self.pos,
            path: Vec::new(),
            kind: FaultKind::Syntax(what),
        }
    }
}

/// Writes `value` as canonical JSON text (SPEC R11.4): no whitespace,
/// object members in the byte order of their names, strings escaped as
/// `JSON.stringify` escapes them, numbers as ECMAScript writes them (R4.4).
/// Equal values give the same bytes, and the text reads back to the value.
///
/// # Example
/// ```
/// use serde_json::json;
/// let v = json!({"b": [1.0, -0.0, 1e21, 0.000001], "a": "é\n"});
/// assert_eq!(fieldmerge::canonical_json(&v), r#"{"a":"é\n","b":[1,0,1e+21,0.000001]}"#);
/// ```
pub fn canonical_json(value: &Value) -> String {
    let mut out = String::new();
    write_value(value, &mut out);
    out
}

/// Appends `value`'s canonical text (R11.4) to `out`: [`canonical_json`]
/// for a writer that builds a larger text around it.
pub(crate) fn write_value(value: &Value, out: &mut String) {
    enum Item<'a> {
        Value(&'a Value),
        Key(&'a str),
        Raw(char),
    }
    // Scalars need no stack.
    match value {
        Value::Array(_) | Value::Object(_) => {}
        scalar => return write_scalar(scalar, out),
    }
    let mut stack = vec![Item::Value(value)];
    while let Some(item) = stack.pop() {
        match item {
            Item::Raw(c) => out.push(c),
            Item::Key(k) => {
                write_string(k, out);
                out.push(':');
            }
            Item::Value(v) => match v {
                Value::Array(items) => {
                    out.push('[');
                    stack.push(Item::Raw(']'));
                    for (i, item) in items.iter().enumerate().rev() {
                        stack.push(Item::Value(item));
                        if i > 0 {
                            stack.push(Item::Raw(','));
                        }
                    }
                }
                Value::Object(members) => {
                    out.push('{');
                    stack.push(Item::Raw('}'));
                    // Byte order of names: `serde_json::Map` without
                    // `preserve_order` is a BTreeMap of `String`, whose
                    // order is the bytes' (`str`'s `Ord`), so its own
                    // order is the canonical one.
                    for (i, (k, item)) in members.iter().enumerate().rev() {
                        stack.push(Item::Value(item));
                        stack.push(Item::Key(k));
                        if i > 0 {
                            stack.push(Item::Raw(','));
                        }
                    }
                }
                scalar => write_scalar(scalar, out),
            },
        }
    }
}

fn write_scalar(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        // An integer past 2^53 in memory (which no kernel value holds,
        // R4.4) is written as its nearest binary64.
        Value::Number(n) => match n.as_i64() {
            Some(i) if i.unsigned_abs() <= SAFE_INTEGER_MAX => {
                use std::fmt::Write as _;
                let _ = write!(out, "{i}");
            }
            _ => write_number(n.as_f64().unwrap_or(0.0), out),
        },
        Value::String(s) => write_string(s, out),
        // Containers go through `write_value`'s stack.
        Value::Array(_) | Value::Object(_) => write_value(value, out),
    }
}

pub(crate) fn write_string(s: &str, out: &mut String) {
    out.push('"');
    // Most strings need no escape: copy them whole.
    if !s.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\') {
        out.push_str(s);
        out.push('"');
        return;
    }
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}
