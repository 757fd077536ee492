//! `redlead elect RESOURCE --id ID -- CMD`: run CMD only while leading.
//!
//! The election's step-down margin is widened by the grace period: the
//! library ends leadership (and sends `Revoked`) `safety margin + grace`
//! before the lease runs out, CMD gets SIGTERM then, and SIGKILL `grace`
//! later — still a safety margin before any other candidate can be elected.

use std::time::Duration;

use redlead::{Election, ElectionConfig, ElectionEvent};
use tokio::sync::mpsc;

use crate::args::{ElectArgs, Global};
use crate::child::{self, signal_name, Child, Signals};
use crate::exit::{self, Failure, LOST};
use crate::nodes;
use crate::timing::{self, show};

/// CMD while this candidate leads.
struct Term {
    term: u64,
    cmd: Child,
}

pub async fn run(global: &Global, args: ElectArgs) -> Result<u8, Failure> {
    child::check_program(&args.cmd)?;
    let redlock = nodes::client(global)?;
    redlock.config().check_ttl(args.ttl)?;
    let grace = timing::grace(args.grace, args.ttl)?;
    let id = args.id.clone().unwrap_or_else(nodes::default_owner);
    let mut config = ElectionConfig::with_ttl(args.ttl);
    config.step_down_margin = Some(timing::stop_before_end(
        args.ttl,
        global.node_timeout,
        grace,
    ));
    let mut signals = Signals::install()?;
    tokio::select! {
        r = nodes::require_quorum(&redlock) => r?,
        sig = signals.recv() => return Ok(exit::of_wait_status(None, Some(sig))),
    }

    let (tx, mut events) = mpsc::unbounded_channel();
    let election = Election::start(&redlock, &args.resource, &id, config, move |ev| {
        let _ = tx.send(ev.clone());
    })?;
    tracing::info!(resource = %args.resource, %id, ttl = %show(args.ttl), "campaigning");

    let mut leading: Option<Term> = None;
    // Set when a signal was forwarded to CMD: its exit then ends redlead.
    let mut interrupted = false;
    let outcome: Result<u8, Failure> = loop {
        let is_leading = leading.is_some();
        tokio::select! {
            ev = events.recv() => match ev {
                Some(ElectionEvent::Elected { term, .. }) => {
                    // A stale Elected (leadership already over) is followed by
                    // its Revoked: start nothing for it.
                    if leading.is_some() || !election.is_leader() || election.term() != Some(term) {
                        continue;
                    }
                    let env = [
                        ("REDLEAD_TERM".to_string(), term.to_string()),
                        ("REDLEAD_FENCING_TOKEN".to_string(), term.to_string()),
                        ("REDLEAD_LEADER_ID".to_string(), id.clone()),
                        ("REDLEAD_RESOURCE".to_string(), args.resource.clone()),
                    ];
                    tracing::info!(resource = %args.resource, %id, term, "elected: starting CMD");
                    match Child::spawn(&args.cmd, &env) {
                        Ok(cmd) => leading = Some(Term { term, cmd }),
                        Err(f) => break Err(f),
                    }
                }
                Some(ElectionEvent::Revoked { term, reason, .. }) => {
                    if let Some(t) = leading.take() {
                        stop(t, grace, &format!("leadership ended ({reason})")).await;
                        if args.once {
                            break Err(lost(&args.resource, term, reason));
                        }
                    } else if args.once && !interrupted {
                        break Err(lost(&args.resource, term, reason));
                    }
                }
                Some(ElectionEvent::LeaderChanged { leader }) => {
                    tracing::info!(resource = %args.resource, leader = leader.as_deref().unwrap_or("(none)"), "leader changed");
                }
                None => break Err(Failure::internal("the election's event thread ended")),
            },
            status = cmd_exited(&mut leading) => {
                let mut t = leading.take().expect("cmd_exited only completes while leading");
                t.cmd.reap().await;
                tracing::info!(resource = %args.resource, term = t.term, status, "CMD exited while leading: resigning");
                if let Err(e) = election.resign().await {
                    tracing::warn!(error = %e, "resign failed; the lease expires by itself");
                }
                break Ok(status);
            }
            // A belt to the events' braces: is_leader turns false on time
            // even if the event is late.
            _ = leadership_lapsed(&election, is_leading) => {
                let t = leading.take().expect("only while leading");
                let term = t.term;
                stop(t, grace, "leadership lapsed").await;
                if args.once {
                    break Err(lost(&args.resource, term, redlead::RevokeReason::LostQuorum));
                }
            }
            sig = signals.recv() => match &leading {
                Some(t) => {
                    tracing::info!(signal = signal_name(sig), pid = t.cmd.pid(), "forwarding to CMD; resigning once it exits");
                    t.cmd.signal(sig);
                    interrupted = true;
                }
                None => break Ok(exit::of_wait_status(None, Some(sig))),
            },
        }
    };
    if let Some(t) = leading.take() {
        // Only on an error path: never leave CMD running past leadership.
        stop(t, grace, "redlead is exiting").await;
    }
    match election.stop().await {
        Ok(()) => {}
        Err(e) => tracing::warn!(error = %e, "stopping the election"),
    }
    nodes::let_releases_land(&redlock, global).await;
    outcome
}

fn lost(resource: &str, term: u64, reason: redlead::RevokeReason) -> Failure {
    Failure::new(
        LOST,
        format!("leadership of {resource} (term {term}) ended: {reason}; CMD was stopped"),
    )
}

async fn stop(mut t: Term, grace: Duration, why: &str) {
    tracing::warn!(
        term = t.term,
        pid = t.cmd.pid(),
        "{why}: stopping CMD (SIGTERM now, SIGKILL in {})",
        show(grace)
    );
    t.cmd.stop(grace).await;
    t.cmd.reap().await;
}

/// CMD's status when it exits while leading; pending otherwise.
///
/// # Cancel safety
/// Safe: waiting consumes nothing.
async fn cmd_exited(leading: &mut Option<Term>) -> u8 {
    match leading {
        Some(t) => t.cmd.exited().await,
        None => std::future::pending().await,
    }
}

/// Completes when `is_leader` turns false while CMD runs.
async fn leadership_lapsed(election: &Election, leading: bool) {
    if !leading {
        return std::future::pending().await;
    }
    while election.is_leader() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
