//! redlead: Redlock over N independent Redis masters, with fencing tokens and
//! leader election.
//!
//! # A guided tour
//! - [`Redlock`] is the client: N node URLs and a [`Config`]. It holds one
//!   multiplexed connection per node and counts a [`Quorum`] of N/2 + 1.
//! - [`Redlock::try_acquire`] makes one attempt, [`Redlock::acquire`] retries
//!   with jitter within a wait budget. Both return a [`Lock`], whose validity is
//!   `ttl - elapsed - drift` measured on the monotonic clock.
//! - With [`LockOptions::fenced`] the lock also carries a [`FencingToken`] that
//!   is strictly greater than every earlier fenced acquisition's of the same
//!   resource (docs/fencing.md).
//! - [`Lock::extend`] never re-creates an expired key; [`Lock::lost`] fires
//!   before the validity ends when the lock could not be extended.
//! - Every failure is an [`Error`] that carries the per-node [`NodeOutcome`]s.
//! - [`Election`] builds leader election on fenced locks: terms (each with
//!   a token cancelled when it ends), fail-safe step-down, fast handover on
//!   resign, the state as a `watch`.
//! - [`Redlock::observe`] gives an [`Observer`]: who holds a resource (the
//!   leader a quorum of nodes agrees on) and its changes, without
//!   campaigning.
//!
//! # Where each idea lives
//! - `node`: one Redlock node, its commands, and its per-key queue (a
//!   client's commands for one key on one node run in order, each after the
//!   previous one settled).
//! - `connection/`: the kinds of node — one server, a Redis Cluster
//!   (`redis+cluster://`), a Sentinel-managed master (`redis+sentinel://`) —
//!   their URLs, and the one connection each keeps (docs/deployment.md).
//! - `nodeset`: the N nodes as one: fan a command out, gather to the quorum.
//! - `quorum`: N/2 + 1 and the early verdict.
//! - `redlock`: the client and one acquisition attempt as named steps.
//! - `fencing`: the token and the two fencing rounds.
//! - `validity`: ttl - elapsed - drift, and the one safety margin.
//! - [`validate`]: the rules inputs obey (durations, milliseconds, names,
//!   PEM), public so that the language bindings check with the same rules.
//! - `lock`: extend, repair, release, the lost signal, auto-extend.
//! - `multi`: several resources all-or-nothing ([`MultiLock`]).
//! - `semaphore`: N holders as N slot locks ([`Semaphore`]).
//! - [`observer`]: observing without campaigning.
//! - `listener`: pub/sub subscriptions on every node, for announcements
//!   (resignations, releases); `wake`: waiting acquires woken by releases.
//! - `election/`: its config, events, leadership, campaign, term as leader,
//!   resign handover and the handle, one file each.
//! - [`lock_value`]: the value a lock stores on the nodes,
//!   `<32 hex token>[:<owner>]`, shared by every language; the owner rule.
//! - `random`: random bits and jitter from the kernel (fork-safe).
//! - `fork`: what an object made in another process may still say.
//! - `io_thread`: the one-thread runtime the language bindings serve callers from.
//! - [`telemetry`]: metric names and what is recorded through the `metrics`
//!   facade (docs/metrics.md).
//! - [`tls`]: TLS nodes and the rustls crypto provider, which the core never
//!   installs (the application chooses it).
//!
//! # What Redlock assumes
//! Safety rests on bounded clock drift between the nodes and the client, and on
//! the client not pausing longer than the safety margin between checking its
//! validity and acting. A process pause (GC, SIGSTOP) after the check can still
//! let a holder act after its lock expired; fencing tokens let the protected
//! resource reject such a stale holder. A node that restarts without its data
//! can grant a lock twice unless it stays down for a ttl after restart
//! (docs/safety.md).

mod config;
mod connection;
pub mod election;
mod error;
mod fencing;
mod fork;
pub mod io_thread;
mod listener;
mod lock;
pub mod lock_value;
mod multi;
mod node;
mod nodeset;
pub mod observer;
mod quorum;
mod random;
mod redlock;
mod round;
mod scripts;
mod semaphore;
pub mod telemetry;
pub mod tls;
pub mod validate;
mod validity;
mod wake;

pub use config::{Config, KeyFormat, Tls};
pub use connection::redact as redact_url;
pub use validate::{MAX_DURATION, MAX_OWNER_LEN, MAX_RESOURCE_LEN};

pub use election::{
    Election, ElectionConfig, ElectionEvent, ElectionOverrides, Handler, LeadershipState,
    RevokeReason,
};
pub use error::{Error, ErrorKind, NodeOutcome, NodeReport, Outcomes, Result};
pub use fencing::FencingToken;
pub use lock::{AutoExtend, Lock};
pub use lock_value::owner_of;
pub use multi::MultiLock;
pub use observer::{Observation, Observer};
pub use quorum::Quorum;
pub use redlock::{LockOptions, Redlock};
/// The release script's Lua source, for benchmarks that send the library's
/// exact commands over raw sockets (core/benches/latency.rs).
#[doc(hidden)]
pub fn release_script() -> &'static str {
    scripts::RELEASE.code()
}
pub use semaphore::{Permit, Semaphore, MAX_PERMITS};
pub use validity::safety_margin;

/// The README's Rust example, compiled as a doctest so that it stays true.
#[doc = include_str!("../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
