//! `redlead demo`: N local redis-server nodes, candidates campaigning
//! in-process (each with its own client, as separate services would), and a
//! scripted run of the failures that matter, each measured:
//!
//! 1. the first election;
//! 2. one node killed (SIGKILL): the quorum survives, the leader keeps its term;
//! 3. the leader resigns: a follower takes over in milliseconds;
//! 4. the leader crashes: a follower takes over once the lease runs out;
//! 5. a quorum of nodes freezes (SIGSTOP): the leader steps down before its
//!    lease can end, and a leader is back once the nodes are.
//!
//! The crash uses `Election::crash()`, the library's test hook that ends a
//! campaign without releasing anything or sending events — what the nodes see
//! of a process killed with SIGKILL. Killing a real process would need the
//! candidates in separate processes; `redlead elect` in three terminals
//! shows that, this demo keeps everything in one command.

mod nodes;
mod show;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use redlead::{Config, Election, ElectionConfig, ElectionEvent, Redlock};
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::args::DemoArgs;
use crate::child::Signals;
use crate::exit::{self, Failure};
use nodes::LocalNode;
use show::{ms, Clock, Summary};

const RESOURCE: &str = "demo-leader";

pub async fn run(args: DemoArgs) -> Result<u8, Failure> {
    if args.ttl < Duration::from_millis(500) || args.ttl > Duration::from_secs(5) {
        return Err(Failure::usage(
            "--ttl for the demo must be between 500ms and 5s (it has to finish within a minute)",
        ));
    }
    if args.candidates < 2 {
        return Err(Failure::usage("--candidates must be at least 2"));
    }
    let mut signals = Signals::install()?;
    let clock = Clock::start();
    println!(
        "redlead demo: {} local Redis masters, {} candidates for {RESOURCE:?}, lease ttl {}\n",
        args.nodes,
        args.candidates,
        ms(args.ttl)
    );
    let mut nodes = Vec::new();
    for i in 0..args.nodes {
        let node = LocalNode::start()?;
        println!("  node {i}  {}  pid {}", node.url(), node.pid());
        nodes.push(node);
    }
    let status = tokio::select! {
        r = scenario(&clock, &mut nodes, &args) => r,
        sig = signals.recv() => {
            println!("\n{} interrupted: stopping the candidates and the nodes", clock.stamp());
            Ok(exit::of_wait_status(None, Some(sig)))
        }
    };
    let n = nodes.len();
    drop(nodes);
    println!(
        "{} {n} nodes stopped (SIGKILL by pid), temporary directories removed",
        clock.stamp()
    );
    status
}

/// The candidates, shared with the sampler that checks that at most one of
/// them leads at any moment.
struct Candidates {
    elections: Vec<Election>,
    names: Vec<String>,
}

impl Candidates {
    fn leader(&self) -> Option<usize> {
        self.elections.iter().position(Election::is_leader)
    }

    fn leaders(&self) -> usize {
        self.elections.iter().filter(|e| e.is_leader()).count()
    }

    /// Waits until a candidate other than `not` leads; returns it and how
    /// long that took.
    async fn wait_leader(&self, not: Option<usize>, limit: Duration) -> Option<(usize, Duration)> {
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Some(i) = self.leader().filter(|&i| Some(i) != not) {
                return Some((i, start.elapsed()));
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        None
    }
}

async fn scenario(clock: &Clock, nodes: &mut [LocalNode], args: &DemoArgs) -> Result<u8, Failure> {
    let ttl = args.ttl;
    let urls: Vec<String> = nodes.iter().map(LocalNode::url).collect();
    let config = ElectionConfig::with_ttl(ttl);
    let retry = config.retry_interval + config.retry_jitter;
    let observer = Redlock::new(&urls, Config::default())?;
    let q = observer.quorum();
    let mut summary = Summary::default();

    // Events from every candidate, printed as they happen.
    let (tx, mut rx) = mpsc::unbounded_channel::<(String, ElectionEvent)>();
    let printer_clock = clock.clone();
    let printer = tokio::spawn(async move {
        while let Some((name, ev)) = rx.recv().await {
            match ev {
                ElectionEvent::Elected { term, at, .. } => {
                    println!(
                        "{}   {name}: ELECTED, term {term}",
                        printer_clock.stamp_at(at)
                    )
                }
                ElectionEvent::Revoked { term, reason, at } => println!(
                    "{}   {name}: stepped down, term {term} ({reason})",
                    printer_clock.stamp_at(at)
                ),
                _ => {}
            }
        }
    });

    println!(
        "\n-- 1. {} candidates campaign, each with its own client --",
        args.candidates
    );
    let started = Instant::now();
    let mut elections = Vec::new();
    let mut names = Vec::new();
    for c in 0..args.candidates {
        let name = format!("cand-{c}");
        let client = Redlock::new(&urls, Config::default())?;
        let (tx, n) = (tx.clone(), name.clone());
        elections.push(Election::start(
            &client,
            RESOURCE,
            &name,
            config.clone(),
            move |ev| {
                let _ = tx.send((n.clone(), ev.clone()));
            },
        )?);
        names.push(name);
    }
    drop(tx);
    let cands = Arc::new(Candidates { elections, names });

    // At most one leader at any moment, sampled every 2 ms all along.
    let most_at_once = Arc::new(AtomicUsize::new(0));
    let sampler = {
        let (cands, most) = (cands.clone(), most_at_once.clone());
        tokio::spawn(async move {
            loop {
                most.fetch_max(cands.leaders(), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        })
    };

    let Some((l1, _)) = cands.wait_leader(None, ttl * 3).await else {
        return Err(Failure::internal("no leader was elected"));
    };
    let term1 = cands.elections[l1].term().unwrap_or(0);
    summary.row(
        "first leader elected",
        ms(started.elapsed()),
        "one attempt: a few round trips",
        true,
    );
    tick(clock, &cands, &observer, nodes, 3, ttl / 4).await;

    println!(
        "\n-- 2. node 0 is killed (SIGKILL): {} of {} nodes left, a quorum is {} --",
        nodes.len() - 1,
        nodes.len(),
        q.size()
    );
    nodes[0].kill();
    println!("{} node 0 killed", clock.stamp());
    let watch_for = ttl * 2;
    let kept = kept_leadership(&cands, l1, term1, watch_for, clock, &observer, nodes).await;
    summary.row(
        "1 node killed: leadership kept",
        if kept {
            format!("{} kept term {term1}", cands.names[l1])
        } else {
            "leader changed".into()
        },
        &format!("same leader and term for {} (2 x ttl)", ms(watch_for)),
        kept,
    );

    println!(
        "\n-- 3. {} resigns: the followers are told on every node --",
        cands.names[l1]
    );
    let t = Instant::now();
    let _ = cands.elections[l1].resign().await;
    let Some((l2, _)) = cands.wait_leader(Some(l1), ttl * 3).await else {
        return Err(Failure::internal(
            "no follower took over after the resignation",
        ));
    };
    let took = t.elapsed();
    println!(
        "{} {} leads {} after the resign call",
        clock.stamp(),
        cands.names[l2],
        ms(took)
    );
    summary.row(
        "resign -> new leader",
        ms(took),
        "milliseconds (no waiting for the lease)",
        took < ttl / 2,
    );
    tick(clock, &cands, &observer, nodes, 2, ttl / 4).await;

    println!(
        "\n-- 4. {} crashes: no release, renewals stop; its lease must run out --",
        cands.names[l2]
    );
    let t = Instant::now();
    cands.elections[l2].crash();
    println!(
        "{} {} crashed (Election::crash: campaign gone, lock left on the nodes)",
        clock.stamp(),
        cands.names[l2]
    );
    let bound = ttl + retry;
    let Some((l3, _)) = cands.wait_leader(Some(l2), bound * 2).await else {
        return Err(Failure::internal("no follower took over after the crash"));
    };
    let took = t.elapsed();
    println!(
        "{} {} leads {} after the crash",
        clock.stamp(),
        cands.names[l3],
        ms(took)
    );
    summary.row(
        "leader crash -> new leader",
        ms(took),
        &format!("<= ttl + retry interval = {}", ms(bound)),
        took <= bound + Duration::from_millis(100),
    );

    let up = nodes.iter().filter(|n| n.is_up()).count();
    let to_freeze = up + 1 - q.size();
    println!(
        "\n-- 5. {to_freeze} more nodes freeze (SIGSTOP): {} of {} answer, below the quorum of {} --",
        up - to_freeze,
        nodes.len(),
        q.size()
    );
    let frozen: Vec<usize> = (1..nodes.len())
        .filter(|&i| nodes[i].is_up())
        .take(to_freeze)
        .collect();
    let t = Instant::now();
    for &i in &frozen {
        nodes[i].freeze();
    }
    println!("{} nodes {frozen:?} frozen", clock.stamp());
    let mut stepped = None;
    while t.elapsed() < ttl * 2 {
        if !cands.elections[l3].is_leader() {
            stepped = Some(t.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    match stepped {
        Some(d) => {
            println!(
                "{} {} stepped down {} after the freeze",
                clock.stamp(),
                cands.names[l3],
                ms(d)
            );
            summary.row(
                "quorum lost -> leader steps down",
                ms(d),
                &format!("< ttl = {} (before its lease can end)", ms(ttl)),
                d < ttl,
            );
        }
        None => summary.row(
            "quorum lost -> leader steps down",
            "did not".into(),
            "< ttl",
            false,
        ),
    }
    tick(clock, &cands, &observer, nodes, 2, ttl / 4).await;
    for &i in &frozen {
        nodes[i].thaw();
    }
    println!("{} nodes {frozen:?} thawed", clock.stamp());
    match cands.wait_leader(None, ttl * 3).await {
        Some((l4, took)) => {
            println!(
                "{} {} leads {} after the thaw",
                clock.stamp(),
                cands.names[l4],
                ms(took)
            );
            summary.row(
                "quorum back -> a leader again",
                ms(took),
                &format!("<= ttl + retry interval = {}", ms(bound)),
                took <= bound + Duration::from_millis(100),
            );
        }
        None => summary.row(
            "quorum back -> a leader again",
            "none".into(),
            "a leader",
            false,
        ),
    }
    tick(clock, &cands, &observer, nodes, 1, ttl / 4).await;

    sampler.abort();
    let most = most_at_once.load(Ordering::Relaxed);
    summary.row(
        "leaders at the same moment",
        format!("at most {most}"),
        "at most 1 (sampled every 2 ms)",
        most <= 1,
    );
    // All at once, so that no follower takes over from a stopping leader.
    futures::future::join_all(cands.elections.iter().map(|e| e.stop())).await;
    let _ = printer.await;
    println!(
        "\n-- summary (ttl {}, {} nodes, {} candidates) --",
        ms(ttl),
        nodes.len(),
        args.candidates
    );
    print!("{}", summary.table());
    println!("\nwall time {}", ms(clock.elapsed()));
    Ok(if summary.all_held() { 0 } else { 1 })
}

/// Watches the leader for `how_long`, printing a status line now and then;
/// true when `leader` led with `term` all along.
async fn kept_leadership(
    cands: &Candidates,
    leader: usize,
    term: u64,
    how_long: Duration,
    clock: &Clock,
    observer: &Redlock,
    nodes: &[LocalNode],
) -> bool {
    let start = Instant::now();
    let mut next_tick = start;
    let mut kept = true;
    while start.elapsed() < how_long {
        let e = &cands.elections[leader];
        if !e.is_leader() || e.term() != Some(term) {
            kept = false;
        }
        if Instant::now() >= next_tick {
            status_line(clock, cands, observer, nodes).await;
            next_tick += how_long / 4;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    kept
}

/// `count` status lines, `every` apart.
async fn tick(
    clock: &Clock,
    cands: &Candidates,
    observer: &Redlock,
    nodes: &[LocalNode],
    count: usize,
    every: Duration,
) {
    for _ in 0..count {
        status_line(clock, cands, observer, nodes).await;
        tokio::time::sleep(every).await;
    }
}

/// `leader cand-1 (term 4) | quorum view: cand-1 | nodes answering 4/5`
async fn status_line(clock: &Clock, cands: &Candidates, observer: &Redlock, nodes: &[LocalNode]) {
    let leader = match cands.leader() {
        Some(i) => format!(
            "{} (term {})",
            cands.names[i],
            cands.elections[i].term().unwrap_or(0)
        ),
        None => "none".to_string(),
    };
    let view = match observer.holder(RESOURCE).await {
        Ok(Some(h)) => h,
        Ok(None) => "nobody holds a quorum".into(),
        Err(_) => "no quorum answers".into(),
    };
    let up = nodes.iter().filter(|n| n.is_up()).count();
    println!(
        "{} leader {leader:<16} | quorum view: {view:<22} | nodes answering {up}/{}",
        clock.stamp(),
        nodes.len()
    );
}
