//! Who wrote a field: the writing actor and the origin derived from it (SPEC R3).

use std::fmt;

/// The source sentinel of client-side data migrations (SPEC R3).
pub const SYSTEM_MIGRATION: &str = "system:migration";
/// The source sentinel of singleton bootstrap, and the writer id of every
/// bootstrap register (SPEC R3, R10).
pub const SYSTEM_BOOTSTRAP: &str = "system:bootstrap";

/// The pipeline a field value came through (SPEC R3). Only `User` values can
/// be the losing side of a conflict (SPEC R6).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum Origin {
    /// A person edited the value.
    User,
    /// An AI agent wrote the value.
    Agent,
    /// A client-side data migration wrote the value.
    Migration,
    /// Any other system process, bootstrap included.
    System,
}

impl Origin {
    /// The wire spelling: `user`, `agent`, `migration` or `system`.
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::User => "user",
            Origin::Agent => "agent",
            Origin::Migration => "migration",
            Origin::System => "system",
        }
    }

    /// Parses the wire spelling.
    ///
    /// # Errors
    /// The rejected text (at most 40 characters) for anything but the four
    /// spellings; callers wrap it in an error that says where it was.
    pub fn parse(text: &str) -> Result<Origin, String> {
        match text {
            "user" => Ok(Origin::User),
            "agent" => Ok(Origin::Agent),
            "migration" => Ok(Origin::Migration),
            "system" => Ok(Origin::System),
            other => Err(other.chars().take(40).collect()),
        }
    }

    /// A stable small number for the total order of registers (SPEC R4.3).
    pub(crate) fn rank(self) -> u8 {
        match self {
            Origin::User => 0,
            Origin::Agent => 1,
            Origin::Migration => 2,
            Origin::System => 3,
        }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for Origin {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for Origin {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Origin::parse(&text)
            .map_err(|bad| serde::de::Error::custom(format!("unknown origin {bad:?}")))
    }
}

/// The actor performing a local write; its [`Origin`] is derived, never
/// chosen (SPEC R3).
///
/// # Example
/// ```
/// use fieldmerge::{Actor, Origin, SYSTEM_MIGRATION};
/// assert_eq!(Actor::User.origin(), Origin::User);
/// assert_eq!(Actor::Ai.origin(), Origin::Agent);
/// assert_eq!(Actor::system(SYSTEM_MIGRATION).origin(), Origin::Migration);
/// assert_eq!(Actor::system("system:cron").origin(), Origin::System);
/// ```
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Actor {
    /// A person using the app.
    User,
    /// An AI agent.
    Ai,
    /// A system process, named by its source (for example [`SYSTEM_MIGRATION`]).
    System {
        /// The source sentinel, such as `system:migration` or `system:bootstrap`.
        source: String,
    },
}

impl Actor {
    /// A system actor with the given source.
    pub fn system(source: &str) -> Actor {
        Actor::System {
            source: source.to_owned(),
        }
    }

    /// The origin this actor's writes carry (SPEC R3): user gives `user`, an AI
    /// gives `agent`, the migration sentinel gives `migration`, any other
    /// system source gives `system`.
    pub fn origin(&self) -> Origin {
        match self {
            Actor::User => Origin::User,
            Actor::Ai => Origin::Agent,
            Actor::System { source } if source == SYSTEM_MIGRATION => Origin::Migration,
            Actor::System { .. } => Origin::System,
        }
    }
}
