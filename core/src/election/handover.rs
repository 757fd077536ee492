//! Fast handover: a resigning leader announces its release on every node,
//! on each after its release there, and a follower wakes once a quorum of
//! nodes announced the same resignation.

use std::sync::{Arc, Mutex};

use tokio::sync::futures::Notified;
use tokio::sync::Notify;

use crate::listener::Listener;
use crate::redlock::Redlock;

/// The resignations one candidate heard of.
pub(super) struct Handover {
    own_id: String,
    quorum: usize,
    /// Woken once per resignation heard from a quorum of nodes.
    announced: Notify,
    /// The latest resignation heard: its term, and from how many nodes.
    heard: Mutex<(u64, usize)>,
}

impl Handover {
    pub(super) fn new(own_id: &str, quorum: usize) -> Handover {
        Handover {
            own_id: own_id.to_string(),
            quorum,
            announced: Notify::new(),
            heard: Mutex::default(),
        }
    }

    /// Subscribes to `channel` on every node of `client`, for as long as
    /// the returned listener lives.
    pub(super) fn watch(self: &Arc<Self>, client: &Redlock, channel: &str) -> Listener {
        let me = self.clone();
        Listener::start(
            client,
            vec![channel.to_string()],
            Arc::new(move |_, _, message| me.hear(message)),
        )
    }

    /// One node's announcement. Our own resignation must not wake us (the
    /// others go first). A resignation wakes us once, when a quorum of nodes
    /// announced it: each announces after its release, so the key is then
    /// gone on a quorum and one attempt can win. A stale wake-up would send
    /// a resigned leader straight back in.
    fn hear(&self, message: &[u8]) {
        let Some(term) = announcement_term(message, &self.own_id) else {
            return;
        };
        let mut heard = self.heard.lock().unwrap_or_else(|p| p.into_inner());
        match term.cmp(&heard.0) {
            std::cmp::Ordering::Greater => *heard = (term, 1),
            std::cmp::Ordering::Equal => heard.1 += 1,
            std::cmp::Ordering::Less => return,
        }
        if heard.1 == self.quorum {
            self.announced.notify_one()
        }
    }

    /// Completes when a resignation was heard from a quorum of nodes (also
    /// for one heard since the last wait).
    pub(super) fn announced(&self) -> Notified<'_> {
        self.announced.notified()
    }

    /// Drops a wake-up stored for a resignation heard earlier.
    pub(super) fn forget(&self) {
        let _ = futures::FutureExt::now_or_never(self.announced.notified());
    }
}

/// The message a resigning leader publishes: `<term> <id>`.
pub(super) fn announcement(term: u64, id: &str) -> String {
    format!("{term} {id}")
}

/// The term of another candidate's resignation (None for our own, or junk).
fn announcement_term(message: &[u8], own_id: &str) -> Option<u64> {
    let text = std::str::from_utf8(message).ok()?;
    let (term, id) = text.split_once(' ')?;
    (id != own_id).then(|| term.parse().ok()).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn announcements_carry_the_term_and_skip_our_own() {
        let m = announcement(7, "node a");
        assert_eq!(announcement_term(m.as_bytes(), "other"), Some(7));
        assert_eq!(announcement_term(m.as_bytes(), "node a"), None);
        assert_eq!(announcement_term(b"garbage", "x"), None);
        assert_eq!(announcement_term(b"x y", "z"), None);
    }
}
