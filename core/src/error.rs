//! One error type for every operation, carrying what each node answered.

use std::fmt;

/// What one node answered to one operation.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
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

/// What went wrong, as a plain value for matching and for mapping to other
/// languages' error codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    InvalidArgument,
    NotAcquired,
    Lost,
    Connection,
    Timeout,
    Closed,
    WrongThread,
    Forked,
    Internal,
}

/// Every failure of the library.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A parameter was rejected before anything was sent; the message names it.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The nodes answered, but no quorum granted the lock in time (held by
    /// another owner, or the validity was used up while acquiring).
    #[error("not acquired: {message} [{outcomes}]")]
    NotAcquired { message: String, outcomes: Outcomes },
    /// The lock is known to be gone: a quorum says it no longer holds this
    /// lock's token, or its validity ended before it could be extended.
    #[error("lock lost: {message} [{outcomes}]")]
    Lost { message: String, outcomes: Outcomes },
    /// Too few nodes answered to reach a quorum (down, frozen, refusing).
    #[error("no quorum reachable: {message} [{outcomes}]")]
    Connection { message: String, outcomes: Outcomes },
    /// A wait budget ran out.
    #[error("timed out: {0}")]
    Timeout(String),
    /// The lock was released or the election stopped.
    #[error("closed: {0}")]
    Closed(String),
    /// The call would deadlock from this thread (e.g. stopping an election
    /// from inside one of its own callbacks).
    #[error("wrong thread: {0}")]
    WrongThread(String),
    /// Used in a child process after fork(): the object belongs to the
    /// parent, which keeps its locks and leadership.
    #[error("used after fork: {0}")]
    Forked(String),
    /// A bug or an unexpected reply; the message says which.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
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

    /// Per-node outcomes of the operation that failed (empty for errors raised
    /// before anything was sent).
    pub fn outcomes(&self) -> &[NodeReport] {
        match self {
            Error::NotAcquired { outcomes, .. }
            | Error::Lost { outcomes, .. }
            | Error::Connection { outcomes, .. } => &outcomes.0,
            _ => &[],
        }
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

pub type Result<T, E = Error> = std::result::Result<T, E>;
