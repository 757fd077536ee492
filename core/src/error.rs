//! One error type for every operation, carrying what each node answered.

use std::fmt;

/// What one node answered to one operation.
///
/// Exhaustive for the reason [`ErrorKind`] is: the C ABI maps each outcome
/// to a `redlead_outcome` code without a catch-all arm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeOutcome {
    /// The node did what was asked (set, extended, released, raised).
    Ok,
    /// Acquire: the key is held by another owner; carries the holder's value
    /// when the operation could read it (fenced acquisitions do).
    Held(Option<String>),
    /// Extend or release: the key no longer holds this lock's token (expired,
    /// released, or taken by someone else).
    NotHeld,
    /// The node answered with an error, or the connection failed.
    Error(String),
    /// No answer within the per-node timeout.
    Timeout,
    /// The operation was decided (quorum reached or impossible) before this
    /// node answered; its command still completes in the background.
    NotAwaited,
}

impl NodeOutcome {
    /// True for answers that say something definite about the key (as opposed
    /// to errors, timeouts and answers not waited for).
    pub fn is_answer(&self) -> bool {
        matches!(
            self,
            NodeOutcome::Ok | NodeOutcome::Held(_) | NodeOutcome::NotHeld
        )
    }
}

impl fmt::Display for NodeOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NodeOutcome::Ok => f.write_str("ok"),
            NodeOutcome::Held(Some(h)) => write!(f, "held by another ({h})"),
            NodeOutcome::Held(None) => f.write_str("held by another"),
            NodeOutcome::NotHeld => f.write_str("not held by this lock"),
            NodeOutcome::Error(e) => write!(f, "error: {e}"),
            NodeOutcome::Timeout => f.write_str("timeout"),
            NodeOutcome::NotAwaited => f.write_str("not awaited"),
        }
    }
}

/// One node's outcome, with the node's address (never its password).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeReport {
    pub node: String,
    pub outcome: NodeOutcome,
}

/// Per-node outcomes of one operation, in the order the nodes were given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcomes(pub Vec<NodeReport>);

impl Outcomes {
    pub fn count(&self, pred: impl Fn(&NodeOutcome) -> bool) -> usize {
        self.0.iter().filter(|r| pred(&r.outcome)).count()
    }
    pub fn iter(&self) -> impl Iterator<Item = &NodeReport> {
        self.0.iter()
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for Outcomes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{}: {}", r.node, r.outcome)?;
        }
        Ok(())
    }
}

/// Writes [`ErrorKind`] and the texts of each kind from one list, so that no
/// kind can lack a description, an explanation or its place in
/// [`ErrorKind::ALL`].
macro_rules! error_kinds {
    ($($kind:ident: $description:literal, $explanation:literal;)*) => {
        /// What went wrong, as a plain value: what callers match on, and
        /// what every language binding maps to its own error codes or
        /// classes.
        ///
        /// Exhaustive on purpose (the one public enum of the crate that is
        /// not `#[non_exhaustive]`): the C ABI and the Python binding map
        /// every kind in a `match` without a catch-all arm, so a new kind
        /// fails to compile until each binding decides what it becomes.
        /// Adding one is a breaking change for crates that match on it.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorKind {
            $(#[doc = $explanation] $kind,)*
        }

        impl ErrorKind {
            /// Every kind, in declaration order (for tests that run each
            /// kind through a binding's mapping).
            pub const ALL: &'static [ErrorKind] = &[$(ErrorKind::$kind),*];

            /// A short lowercase phrase, stable across versions: it begins
            /// the message of every [`Error`] of this kind (`"lock lost: ..."`)
            /// and is the C ABI's text of the matching status.
            pub const fn description(self) -> &'static str {
                match self {
                    $(ErrorKind::$kind => $description,)*
                }
            }

            /// One or two sentences on what the kind means (the variant's
            /// documentation; Python's exception docstrings).
            pub const fn explanation(self) -> &'static str {
                match self {
                    $(ErrorKind::$kind => $explanation,)*
                }
            }
        }
    };
}

error_kinds! {
    InvalidArgument: "invalid argument",
        "A parameter was rejected before anything was sent; the message names it.";
    NotAcquired: "not acquired",
        "The nodes answered, but no quorum granted the lock in time (held by another \
         owner, or the validity was used up while acquiring).";
    Lost: "lock lost",
        "The lock is known to be gone: a quorum says it no longer holds this lock's \
         token, or its validity ended before it could be extended.";
    Connection: "no quorum reachable",
        "Too few nodes answered to reach a quorum (down, frozen, refusing).";
    Timeout: "timed out",
        "A wait budget ran out.";
    Closed: "closed",
        "The lock was released or the election stopped.";
    WrongThread: "wrong thread",
        "The call would deadlock from this thread (e.g. stopping an election from \
         inside one of its own callbacks).";
    Forked: "used after fork",
        "Used in a child process after fork(): the object belongs to the parent, \
         which keeps its locks and leadership.";
    Internal: "internal error",
        "A bug or an unexpected reply; the message says which.";
}

impl ErrorKind {
    /// Another attempt may succeed: the nodes refused the lock (held by
    /// another owner) or too few of them answered. Retrying loops (acquire
    /// within a wait, an election's campaign) go on after these and give up
    /// on any other kind.
    pub const fn is_retryable(self) -> bool {
        match self {
            ErrorKind::NotAcquired | ErrorKind::Connection => true,
            ErrorKind::InvalidArgument
            | ErrorKind::Lost
            | ErrorKind::Timeout
            | ErrorKind::Closed
            | ErrorKind::WrongThread
            | ErrorKind::Forked
            | ErrorKind::Internal => false,
        }
    }

    /// The lock (or election) the call was made on is over for this
    /// process: lost, released or stopped, or owned by the parent of a
    /// forked child. Nothing done with it can succeed any more, so work that
    /// keeps it alive (auto-extend, a renewal loop) stops instead of
    /// retrying.
    pub const fn is_terminal(self) -> bool {
        match self {
            ErrorKind::Lost | ErrorKind::Closed | ErrorKind::Forked => true,
            ErrorKind::InvalidArgument
            | ErrorKind::NotAcquired
            | ErrorKind::Connection
            | ErrorKind::Timeout
            | ErrorKind::WrongThread
            | ErrorKind::Internal => false,
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.description())
    }
}

/// Every failure of the library: an [`ErrorKind`] with a message, and the
/// per-node outcomes when nodes were asked. Displayed as
/// `<kind's description>: <message>[ [<outcomes>]]`.
///
/// Match on [`kind`](Error::kind) rather than on the variants: one variant
/// per kind, the kind's documentation says what each means.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// [`ErrorKind::InvalidArgument`]
    InvalidArgument(String),
    /// [`ErrorKind::NotAcquired`]
    NotAcquired { message: String, outcomes: Outcomes },
    /// [`ErrorKind::Lost`]
    Lost { message: String, outcomes: Outcomes },
    /// [`ErrorKind::Connection`]
    Connection { message: String, outcomes: Outcomes },
    /// [`ErrorKind::Timeout`]
    Timeout(String),
    /// [`ErrorKind::Closed`]
    Closed(String),
    /// [`ErrorKind::WrongThread`]
    WrongThread(String),
    /// [`ErrorKind::Forked`]
    Forked(String),
    /// [`ErrorKind::Internal`]
    Internal(String),
}

impl Error {
    /// An error of `kind` with `message` and no per-node outcomes: for a
    /// binding that raises the library's errors itself, and for tests that
    /// run every kind through a mapping.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        let message = message.into();
        let outcomes = Outcomes::default();
        match kind {
            ErrorKind::InvalidArgument => Error::InvalidArgument(message),
            ErrorKind::NotAcquired => Error::NotAcquired { message, outcomes },
            ErrorKind::Lost => Error::Lost { message, outcomes },
            ErrorKind::Connection => Error::Connection { message, outcomes },
            ErrorKind::Timeout => Error::Timeout(message),
            ErrorKind::Closed => Error::Closed(message),
            ErrorKind::WrongThread => Error::WrongThread(message),
            ErrorKind::Forked => Error::Forked(message),
            ErrorKind::Internal => Error::Internal(message),
        }
    }

    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::InvalidArgument(_) => ErrorKind::InvalidArgument,
            Error::NotAcquired { .. } => ErrorKind::NotAcquired,
            Error::Lost { .. } => ErrorKind::Lost,
            Error::Connection { .. } => ErrorKind::Connection,
            Error::Timeout(_) => ErrorKind::Timeout,
            Error::Closed(_) => ErrorKind::Closed,
            Error::WrongThread(_) => ErrorKind::WrongThread,
            Error::Forked(_) => ErrorKind::Forked,
            Error::Internal(_) => ErrorKind::Internal,
        }
    }

    /// What the message says beyond the kind, and the outcomes if any.
    fn detail(&self) -> (&str, Option<&Outcomes>) {
        match self {
            Error::NotAcquired { message, outcomes }
            | Error::Lost { message, outcomes }
            | Error::Connection { message, outcomes } => (message, Some(outcomes)),
            Error::InvalidArgument(message)
            | Error::Timeout(message)
            | Error::Closed(message)
            | Error::WrongThread(message)
            | Error::Forked(message)
            | Error::Internal(message) => (message, None),
        }
    }

    /// Per-node outcomes of the operation that failed (empty for errors raised
    /// before anything was sent).
    pub fn outcomes(&self) -> &[NodeReport] {
        self.detail().1.map_or(&[], |o| &o.0)
    }

    /// See [`ErrorKind::is_retryable`].
    pub fn is_retryable(&self) -> bool {
        self.kind().is_retryable()
    }
    /// See [`ErrorKind::is_terminal`].
    pub fn is_terminal(&self) -> bool {
        self.kind().is_terminal()
    }
    pub fn is_not_acquired(&self) -> bool {
        self.kind() == ErrorKind::NotAcquired
    }
    pub fn is_lost(&self) -> bool {
        self.kind() == ErrorKind::Lost
    }
    pub fn is_quorum_unreachable(&self) -> bool {
        self.kind() == ErrorKind::Connection
    }
    pub fn is_invalid_argument(&self) -> bool {
        self.kind() == ErrorKind::InvalidArgument
    }

    pub(crate) fn invalid(msg: impl Into<String>) -> Error {
        Error::InvalidArgument(msg.into())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (message, outcomes) = self.detail();
        write!(f, "{}: {message}", self.kind())?;
        match outcomes {
            Some(outcomes) => write!(f, " [{outcomes}]"),
            None => Ok(()),
        }
    }
}

impl std::error::Error for Error {}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_is_listed_once_with_its_own_texts() {
        for (i, kind) in ErrorKind::ALL.iter().enumerate() {
            assert!(!ErrorKind::ALL[..i].contains(kind), "{kind:?} twice");
            let others = ErrorKind::ALL.iter().filter(|k| *k != kind);
            for other in others {
                assert_ne!(kind.description(), other.description());
                assert_ne!(kind.explanation(), other.explanation());
            }
            assert!(kind.explanation().ends_with('.'), "{kind:?}");
            assert!(!kind.explanation().contains("  "), "{kind:?}");
        }
        assert_eq!(ErrorKind::ALL.len(), 9);
    }

    #[test]
    fn messages_begin_with_the_kinds_description() {
        for &kind in ErrorKind::ALL {
            let e = Error::new(kind, "m");
            assert_eq!(e.kind(), kind);
            assert!(e.outcomes().is_empty());
            let message = e.to_string();
            let detail = message.strip_prefix(kind.description());
            assert!(matches!(detail, Some(": m" | ": m []")), "{message}");
        }
        let lost = Error::Lost {
            message: "r: gone".into(),
            outcomes: Outcomes(vec![NodeReport {
                node: "n:1".into(),
                outcome: NodeOutcome::NotHeld,
            }]),
        };
        assert_eq!(
            lost.to_string(),
            "lock lost: r: gone [n:1: not held by this lock]"
        );
        assert_eq!(lost.outcomes().len(), 1);
        assert_eq!(
            Error::invalid("ttl_ms must be greater than 0").to_string(),
            "invalid argument: ttl_ms must be greater than 0"
        );
    }

    #[test]
    fn only_refusals_and_unreachable_quorums_are_retried() {
        let retryable: Vec<_> = ErrorKind::ALL.iter().filter(|k| k.is_retryable()).collect();
        assert_eq!(retryable, [&ErrorKind::NotAcquired, &ErrorKind::Connection]);
        assert!(Error::new(ErrorKind::Connection, "m").is_retryable());
    }

    #[test]
    fn lost_closed_and_forked_end_the_lock() {
        let terminal: Vec<_> = ErrorKind::ALL.iter().filter(|k| k.is_terminal()).collect();
        assert_eq!(
            terminal,
            [&ErrorKind::Lost, &ErrorKind::Closed, &ErrorKind::Forked]
        );
        assert!(Error::new(ErrorKind::Forked, "m").is_terminal());
        assert!(!ErrorKind::ALL
            .iter()
            .any(|k| k.is_retryable() && k.is_terminal()));
    }
}
