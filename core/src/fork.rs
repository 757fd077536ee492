//! fork(): the child inherits every in-memory flag of the parent (a lock's
//! "held", an election's "leading") but none of its runtime threads, and the
//! parent keeps the lock or the leadership. An object remembers the process
//! that made it; in any other process it holds nothing and does nothing.

use crate::error::{Error, Result};

/// The process an object was made in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Origin(u32);

impl Origin {
    pub fn here() -> Origin {
        Origin(std::process::id())
    }

    /// True in a child forked after the object was made.
    pub fn forked(self) -> bool {
        self.0 != std::process::id()
    }

    /// `Forked` error in a forked child.
    pub fn check(self, what: &str) -> Result<()> {
        if self.forked() {
            return Err(Error::Forked(format!(
                "this {what} was made in process {} and is used in process {} after fork(); it holds nothing here: make a new client in the child",
                self.0,
                std::process::id()
            )));
        }
        Ok(())
    }
}
