//! Which rule decided a field: the outcome of merging one incoming register
//! into the current one, and the conflict rule (SPEC R4, R6).

use std::cmp::Ordering;

use crate::json::values_equal;
use crate::origin::Origin;
use crate::register::{Base, Register};

/// How a batch of changes reaches a replica; decides only the legacy
/// fallback of the conflict rule (SPEC R6.4).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum Delivery {
    /// Normal sync: pulls after a cursor, push responses, state merges.
    #[default]
    Live,
    /// Part of an initial hydration round: any page of the first pull of a
    /// replica that had no cursor yet.
    Hydration,
}

/// Where a field is decided: the delivery, and whether the current register
/// is one of the deciding replica's own pending writes (SPEC R6.4). A
/// [`Delivery`] alone is the context of a merge with no pending writes (the
/// server's, or a replica's over a register it has not written).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct Context {
    /// How the incoming register arrived.
    pub delivery: Delivery,
    /// Whether the current register is still in the deciding replica's
    /// outbox: a pending local write, which no legacy winner can have seen.
    pub current_pending: bool,
}

impl From<Delivery> for Context {
    fn from(delivery: Delivery) -> Context {
        Context {
            delivery,
            current_pending: false,
        }
    }
}

/// What happened to one field when an incoming register met the current one.
/// Every variant names the rule that decided it (SPEC R6).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Decision {
    /// The field had no register; the incoming one was stored (SPEC R6.1).
    Insert,
    /// The incoming register is identical to the current one: re-delivery,
    /// nothing changes (SPEC R6.2).
    Duplicate,
    /// The incoming register is older: a replayed piece of history, the
    /// current register stays (SPEC R6.2).
    Stale,
    /// Same version, different content: a malformed twin, resolved by the
    /// total order and reported as an anomaly, never as a conflict (SPEC R4.4).
    Twin {
        /// Whether the incoming twin won the total order.
        incoming_won: bool,
    },
    /// The incoming register won and nothing a user wrote was lost
    /// (SPEC R6.3), for the stated reason.
    Overwrite(Silence),
    /// The incoming register won over a user value it had not seen: a lost
    /// user edit (SPEC R6.3, R6.4).
    Conflict(ConflictRule),
}

/// Why an overwrite raised no conflict (SPEC R6.3).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Silence {
    /// The losing register was not written by a user (agent, migration,
    /// system, bootstrap).
    LoserNotUser,
    /// The winner carries the same value: nothing visible was lost.
    SameValue,
    /// The winner's writer overwrote exactly the losing version: it saw it.
    Witnessed,
    /// A legacy winner (no witness) during an initial hydration round, over
    /// a register that is not a pending local write.
    LegacyHydration,
}

/// Which form of the conflict rule reported a lost user edit.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum ConflictRule {
    /// The winner carries a witness that is not the losing version (SPEC R6.3).
    Unwitnessed,
    /// The winner carries no witness, and the apply is live or the loser is
    /// a pending local write (SPEC R6.4).
    Legacy,
}

impl Decision {
    /// Whether the incoming register replaced the current one.
    pub fn incoming_won(self) -> bool {
        match self {
            Decision::Insert | Decision::Overwrite(_) | Decision::Conflict(_) => true,
            Decision::Twin { incoming_won } => incoming_won,
            Decision::Duplicate | Decision::Stale => false,
        }
    }
}

/// Decides one field: how `incoming` meets `current` in `context` (SPEC R4,
/// R6). Pure, and the one place a field's decision is made: every merge, on
/// a replica or on the server, reports exactly what this returns, and stores
/// `incoming` exactly when [`Decision::incoming_won`]. `context` is a
/// [`Context`], or a [`Delivery`] for a current register that is not a
/// pending local write.
///
/// # Example
/// ```
/// use fieldmerge::{decide, Base, Context, Decision, ConflictRule, Delivery, Origin, Register, Silence, Timestamp, WriterId};
/// use serde_json::json;
/// let mine = Register { value: json!("draft"), at: Timestamp::from_ms(10).unwrap(),
///     by: WriterId::new("phone"), origin: Origin::User, base: Base::First };
/// let blind = Register { value: json!("other"), at: Timestamp::from_ms(20).unwrap(),
///     by: WriterId::new("laptop"), origin: Origin::User, base: Base::First };
/// let seeing = Register { base: Base::Saw(mine.version()), ..blind.clone() };
/// assert_eq!(decide(Some(&mine), &blind, Delivery::Live), Decision::Conflict(ConflictRule::Unwitnessed));
/// assert_eq!(decide(Some(&mine), &seeing, Delivery::Live), Decision::Overwrite(Silence::Witnessed));
/// assert_eq!(decide(Some(&seeing), &mine, Delivery::Live), Decision::Stale);
///
/// // A legacy winner in hydration is silent, unless the loser is pending.
/// let legacy = Register { base: Base::Legacy, ..blind.clone() };
/// assert_eq!(decide(Some(&mine), &legacy, Delivery::Hydration), Decision::Overwrite(Silence::LegacyHydration));
/// let pending = Context { delivery: Delivery::Hydration, current_pending: true };
/// assert_eq!(decide(Some(&mine), &legacy, pending), Decision::Conflict(ConflictRule::Legacy));
/// ```
#[must_use]
pub fn decide(
    current: Option<&Register>,
    incoming: &Register,
    context: impl Into<Context>,
) -> Decision {
    let context = context.into();
    let Some(current) = current else {
        return Decision::Insert;
    };
    match incoming.cmp_version(current) {
        Ordering::Less => Decision::Stale,
        Ordering::Equal => match incoming.cmp_twin(current) {
            Ordering::Equal => Decision::Duplicate,
            ord => Decision::Twin {
                incoming_won: ord == Ordering::Greater,
            },
        },
        Ordering::Greater => overwrite(current, incoming, context),
    }
}

// SPEC R6.3-R6.4: the incoming register wins; was a user edit lost?
fn overwrite(loser: &Register, winner: &Register, context: Context) -> Decision {
    if loser.origin != Origin::User {
        return Decision::Overwrite(Silence::LoserNotUser);
    }
    if values_equal(&loser.value, &winner.value) {
        return Decision::Overwrite(Silence::SameValue);
    }
    match &winner.base {
        Base::Saw(seen) if loser.has_version(seen) => Decision::Overwrite(Silence::Witnessed),
        Base::Saw(_) | Base::First => Decision::Conflict(ConflictRule::Unwitnessed),
        // SPEC R6.4: a legacy winner is silent only in hydration, and never
        // over a pending local write: that write is not in the log before
        // the winner (own changes found there are acknowledged, R12.2), so
        // the winner cannot have seen it.
        Base::Legacy => match (context.delivery, context.current_pending) {
            (Delivery::Hydration, false) => Decision::Overwrite(Silence::LegacyHydration),
            (Delivery::Hydration, true) | (Delivery::Live, _) => {
                Decision::Conflict(ConflictRule::Legacy)
            }
        },
    }
}
