//! Reading argument objects and building errors.

use fieldmerge::{Actor, ChangeError, ErrorBody, Ext, RecordKey, Timestamp};
use serde_json::{Map, Value};

/// An error as its JSON text: `{code, message, index?, field?}`, plus every
/// member of a push refusal (SPEC R13.1).
#[derive(Clone, Debug, PartialEq)]
pub struct Error {
    /// The error's stable code.
    pub code: String,
    /// The error's canonical JSON text.
    pub text: String,
}

impl Error {
    /// An error of a binding's own (`bad_utf8`, `null_pointer`, ...).
    pub fn new(code: &str, message: &str) -> Error {
        Error::body(&ErrorBody {
            code: code.to_owned(),
            message: message.to_owned(),
            index: None,
            field: None,
        })
    }

    /// The error of a kernel [`ErrorBody`].
    pub fn body(body: &ErrorBody) -> Error {
        let value = serde_json::to_value(body).unwrap_or(Value::Null);
        Error::value(&body.code, &value)
    }

    /// An error whose JSON form is `value`.
    pub fn value(code: &str, value: &Value) -> Error {
        Error {
            code: code.to_owned(),
            text: fieldmerge::canonical_json(value),
        }
    }
}

impl<E> From<&E> for Error
where
    for<'a> &'a E: Into<ErrorBody>,
{
    fn from(e: &E) -> Error {
        Error::body(&e.into())
    }
}

/// Canonical text of anything with a JSON form.
pub(crate) fn text<T: serde::Serialize>(value: &T) -> String {
    fieldmerge::canonical_json(&serde_json::to_value(value).unwrap_or(Value::Null))
}

/// An argument object read from text: a JSON object whose members are taken
/// one by one, and refused when any is left over.
pub(crate) struct Args {
    members: Map<String, Value>,
}

fn bad(what: &str, expected: &str) -> Error {
    Error::new("wrong_type", &format!("{what} must be {expected}"))
}

impl Args {
    pub(crate) fn read(text: &[u8]) -> crate::Result<Args> {
        // A patch's values sit two levels inside the arguments: read as a
        // form, so a value of 128 levels reads and the write's own check
        // decides (R11.6), naming the field.
        let value: Value = form(text)?;
        match value {
            Value::Object(members) => Ok(Args { members }),
            _ => Err(bad("the arguments", "an object")),
        }
    }

    pub(crate) fn take(&mut self, name: &str) -> crate::Result<Value> {
        self.members
            .remove(name)
            .ok_or_else(|| Error::new("missing", &format!("missing {name}")))
    }

    pub(crate) fn take_opt(&mut self, name: &str) -> Option<Value> {
        self.members.remove(name)
    }

    pub(crate) fn string(&mut self, name: &str) -> crate::Result<String> {
        match self.take(name)? {
            Value::String(s) => Ok(s),
            _ => Err(bad(name, "a string")),
        }
    }

    pub(crate) fn object(&mut self, name: &str) -> crate::Result<Map<String, Value>> {
        match self.take(name)? {
            Value::Object(m) => Ok(m),
            _ => Err(bad(name, "an object")),
        }
    }

    pub(crate) fn time(&mut self, name: &str) -> crate::Result<Timestamp> {
        let text = self.string(name)?;
        Timestamp::parse(&text).map_err(|e| Error::new("bad_timestamp", &format!("{name}: {e}")))
    }

    pub(crate) fn counter(&mut self, name: &str) -> crate::Result<Option<u64>> {
        match self.take_opt(name) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => counter(&v)
                .map(Some)
                .ok_or_else(|| bad(name, "an integer from 0 to 2^53")),
        }
    }

    /// `{table, id}` or, for a singleton, `{kind, scope}` (SPEC R10.2).
    pub(crate) fn key(&mut self) -> crate::Result<RecordKey> {
        if self.members.contains_key("kind") && !self.members.contains_key("table") {
            let kind = self.string("kind")?;
            let scope = self.string("scope")?;
            return Ok(RecordKey::singleton(&kind, &scope));
        }
        Ok(RecordKey::new(&self.string("table")?, &self.string("id")?))
    }

    pub(crate) fn actor(&mut self) -> crate::Result<Actor> {
        let Value::Object(mut actor) = self.take("actor")? else {
            return Err(bad("actor", "an object"));
        };
        let kind = actor.remove("kind");
        let source = actor.remove("source");
        if let Some(name) = actor.keys().next() {
            return Err(Error::new(
                "unknown_member",
                &format!("unknown member actor.{name}"),
            ));
        }
        match (
            kind.as_ref().and_then(Value::as_str),
            source.as_ref().and_then(Value::as_str),
        ) {
            (Some("user"), None) => Ok(Actor::User),
            (Some("ai"), None) => Ok(Actor::Ai),
            (Some("system"), Some(source)) => Ok(Actor::system(source)),
            _ => Err(bad("actor", "{kind: user|ai} or {kind: system, source}")),
        }
    }

    /// The optional extension slot `ext` of a write (SPEC R11.8).
    pub(crate) fn ext(&mut self) -> crate::Result<Option<Ext>> {
        match self.take_opt("ext") {
            None => Ok(None),
            Some(v) => Ext::new(&v)
                .map(Some)
                .map_err(|k| Error::new(k.code(), &format!("ext: {k}"))),
        }
    }

    /// Refuses members nobody took.
    pub(crate) fn done(self) -> crate::Result<()> {
        match self.members.keys().next() {
            None => Ok(()),
            Some(name) => Err(Error::new(
                "unknown_member",
                &format!("unknown member {name}"),
            )),
        }
    }
}

/// A counter of SPEC R11.6: an integer from 0 to 2^53 (text read by the
/// one reader holds every such number, in any spelling, as an integer).
pub(crate) fn counter(v: &Value) -> Option<u64> {
    v.as_u64().filter(|n| *n <= fieldmerge::SAFE_INTEGER_MAX)
}

/// Reads a message form from text (SPEC R13.1, R11.7).
pub(crate) fn form<T: serde::de::DeserializeOwned>(text: &[u8]) -> crate::Result<T> {
    fieldmerge::read_form(text).map_err(|e: ChangeError| Error::from(&e))
}
