//! `redlead observe RESOURCE`: the leader of a resource and each change, one
//! line each, without campaigning (like `etcdctl elect -l`), through the
//! library's `Redlock::observe`: the leader a quorum of nodes agrees on.

use std::io::Write;

use redlead::Observation;
use serde::Serialize;

use crate::args::{Global, ObserveArgs};
use crate::child::Signals;
use crate::exit::Failure;
use crate::nodes;

#[derive(Debug, Serialize)]
struct Line<'a> {
    resource: &'a str,
    /// The owner id of the value a quorum holds; null when none.
    leader: Option<&'a str>,
    /// The value a quorum holds (`<token>[:<owner>]`); null when none.
    value: Option<&'a str>,
}

pub async fn run(global: &Global, args: ObserveArgs) -> Result<u8, Failure> {
    let redlock = nodes::client(global)?;
    let mut signals = Signals::install()?;
    let observer = redlock.observe_every(&args.resource, args.poll).await?;
    let mut changes = observer.changes();
    loop {
        let seen = changes.borrow_and_update().clone();
        if print(&args, &seen).is_err() {
            // stdout closed (`| head -1`): nobody reads any more.
            return Ok(0);
        }
        tokio::select! {
            changed = changes.changed() => if changed.is_err() {
                return Err(Failure::internal("the observer stopped"));
            },
            _ = signals.recv() => return Ok(0),
        }
    }
}

fn print(args: &ObserveArgs, seen: &Observation) -> std::io::Result<()> {
    let line = if args.json {
        let line = Line {
            resource: &args.resource,
            leader: seen.leader(),
            value: seen.value.as_deref(),
        };
        serde_json::to_string(&line)?
    } else {
        match (seen.leader(), &seen.value) {
            (Some(leader), _) => leader.to_string(),
            (None, Some(value)) => format!("(held, no owner label: {value})"),
            (None, None) => "(none)".to_string(),
        }
    };
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")?;
    out.flush()
}
