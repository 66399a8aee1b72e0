//! The client's error: a kind to match on, and a message for people.

use std::fmt;

/// What kind of failure, for callers to match on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Nobody answered within the request timeout.
    TimedOut,
    /// Nobody listens on the subject: no host in this lattice (or none with
    /// that id).
    NoResponders,
    /// A host answered `success: false`; the message says why.
    Rejected,
    /// No host of the lattice qualifies for an auction; the message says
    /// why each declined.
    NoHost,
    /// The reply was not the JSON the protocol defines.
    Malformed,
    /// NATS itself failed (connection lost, publish refused).
    Transport,
}

/// A failed request.
#[derive(Debug)]
pub struct Error {
    kind: ErrorKind,
    message: String,
}

impl Error {
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    /// The kind of failure.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// What went wrong; for `Rejected`, the host's own message.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}
