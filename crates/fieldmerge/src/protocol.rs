//! The protocol's messages (SPEC R12): what a client pushes, the page of the
//! log a server serves, and the server's answer to a push. Plain data: the
//! simulator reorders, duplicates and drops them, and each has one JSON form.

use crate::change::Change;
use crate::quarantine::Quarantined;
use crate::register::WriterId;
use crate::report::ApplyReport;

/// A client's push: its pending changes, oldest first, and its cursor.
#[derive(Clone, PartialEq, Debug)]
pub struct Push {
    /// The pushing client.
    pub client_id: WriterId,
    /// The pending changes, with consecutive `client_seq`.
    pub changes: Vec<Change>,
    /// The client's cursor: the reply carries the log after it.
    pub cursor: u64,
    /// The client's clock epoch when it made the push (SPEC R12.4).
    pub clock_epoch: u64,
}

/// A client's request for one page of the log after its cursor (SPEC
/// R12.2), at most `limit` changes (the server's `page_size_max` when
/// absent, and never more).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Pull {
    /// The client's cursor: the page starts after it.
    pub cursor: u64,
    /// The most changes the client wants.
    pub limit: Option<usize>,
}

/// A page of the server log: the entries with server sequence numbers
/// `after + 1 ..`, and the log's head when the page was cut (SPEC R12.2).
/// An entry is a change or, when it does not decode, a quarantined entry
/// (SPEC R12.6); the two lists together are the page's entries, each in
/// log order.
#[derive(Clone, PartialEq, Debug)]
pub struct Page {
    /// The cursor the page continues (0 for the start of the log).
    pub after: u64,
    /// The changes, in log order.
    pub changes: Vec<Change>,
    /// The server sequence number of the last entry in the log.
    pub head: u64,
    /// The entries that are not changes, in log order, each at its
    /// position (`server_seq`) among the changes (SPEC R12.6).
    pub quarantined: Vec<Quarantined>,
    /// The name of the log the page was cut from, when its server names it
    /// (SPEC R12.7): a replica that follows one log refuses a page of
    /// another, whose sequence numbers mean other changes.
    pub log: Option<String>,
}

impl Page {
    /// A page of changes only, of an unnamed log.
    pub fn new(after: u64, changes: Vec<Change>, head: u64) -> Page {
        Page {
            after,
            changes,
            head,
            quarantined: Vec::new(),
            log: None,
        }
    }

    /// The page, cut from the log named `log` (SPEC R12.7).
    #[must_use]
    pub fn with_log(mut self, log: Option<String>) -> Page {
        self.log = log;
        self
    }

    /// How many entries the page holds: its changes and its quarantined
    /// entries.
    pub fn len(&self) -> usize {
        self.changes.len() + self.quarantined.len()
    }

    /// Whether the page holds no entry.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether more of the log follows this page.
    pub fn has_more(&self) -> bool {
        // Saturating: a forged `after` near `u64::MAX` must not wrap.
        let len = u64::try_from(self.len()).unwrap_or(u64::MAX);
        self.after.saturating_add(len) < self.head
    }
}

/// The server's answer to an accepted push.
#[derive(Clone, PartialEq, Debug)]
pub struct PushReply {
    /// The highest `client_seq` of the pusher the log now holds: everything up
    /// to it can leave the outbox.
    pub acked_through: Option<u64>,
    /// How many changes of the push were new (the rest were retries).
    pub appended: usize,
    /// The log after the push's cursor, one page (SPEC R12.1).
    pub page: Page,
    /// What merging the new changes into the materialized state decided.
    pub report: ApplyReport,
}
