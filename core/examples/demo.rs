//! The redlead demo: starts 5 local redis-server nodes, runs contenders for
//! one resource, shows who holds it and the fencing tokens, kills nodes, then
//! runs a leader election with a crash and a resignation.
//!
//! Run: cargo run --release -p redlead-core --example demo

use std::sync::Arc;
use std::time::Duration;

use redlead::{Config, Election, ElectionConfig, ElectionEvent, LockOptions, Redlock};
use redlead_harness::Cluster;
use tokio::time::Instant;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    println!("== redlead demo: Redlock over 5 independent Redis masters ==\n");
    let mut cluster = Cluster::start(5);
    for (i, n) in cluster.nodes.iter().enumerate() {
        println!("node {i}: {} (pid {})", n.url(), n.pid().unwrap_or(0));
    }
    let urls = cluster.urls();
    let t0 = Instant::now();
    let stamp = move || format!("[{:>6.3}s]", t0.elapsed().as_secs_f64());

    println!("\n-- 1. four contenders, one resource 'nightly-job', fenced locks --");
    let contend = |round: usize| {
        let urls = urls.clone();
        async move {
            let tasks: Vec<_> = (0..4)
                .map(|c| {
                    let urls = urls.clone();
                    tokio::spawn(async move {
                        let rl = Redlock::new(&urls, Config::default()).unwrap();
                        let opts = LockOptions::fenced().with_owner(format!("worker-{c}"));
                        match rl.acquire_with("nightly-job", Duration::from_secs(5), Duration::from_secs(3), &opts).await {
                            Ok(lock) => {
                                let ok = lock.outcomes().count(|o| *o == redlead::NodeOutcome::Ok);
                                println!(
                                    "{} round {round}: worker-{c} holds nightly-job  fencing token {}  validity {} ms  ({ok} nodes said ok)",
                                    stamp(),
                                    lock.fencing_token().unwrap(),
                                    lock.validity().as_millis()
                                );
                                tokio::time::sleep(Duration::from_millis(150)).await;
                                lock.release().await.unwrap();
                                true
                            }
                            Err(e) => {
                                println!("{} round {round}: worker-{c} gave up: {e}", stamp());
                                false
                            }
                        }
                    })
                })
                .collect();
            let mut won = 0;
            for t in tasks {
                won += t.await.unwrap() as usize;
            }
            won
        }
    };
    contend(1).await;

    println!("\n-- 2. kill 2 of 5 nodes: a quorum of 3 remains, locking goes on --");
    cluster.nodes[0].kill();
    cluster.nodes[1].kill();
    println!("{} killed node 0 and node 1", stamp());
    contend(2).await;

    println!("\n-- 3. kill a third node: no quorum; acquisitions fail cleanly and say why --");
    cluster.nodes[2].kill();
    println!("{} killed node 2", stamp());
    let rl = Redlock::new(&cluster.urls(), Config::default()).unwrap();
    match rl
        .try_acquire_with(
            "nightly-job",
            Duration::from_secs(5),
            &LockOptions::fenced(),
        )
        .await
    {
        Ok(_) => println!("unexpected: acquired without a quorum"),
        Err(e) => {
            println!("{} try_acquire failed ({:?}); per node:", stamp(), e.kind());
            for r in e.outcomes() {
                println!("    {:<18} {}", r.node, r.outcome);
            }
        }
    }
    println!(
        "    keys left on the live nodes: {}",
        cluster.count_key("redlead:{nightly-job}")
    );

    println!("\n-- 4. restart the dead nodes (their AOF kept the fencing counters) --");
    for i in 0..3 {
        cluster.nodes[i].restart();
    }
    println!("{} nodes 0-2 back", stamp());
    contend(4).await;

    println!("\n-- 5. leader election: 3 candidates, ttl 1 s --");
    let rl = Redlock::new(
        &cluster.urls(),
        Config::default().with_node_timeout(Duration::from_millis(20)),
    )
    .unwrap();
    let mut cfg = ElectionConfig::with_ttl(Duration::from_secs(1));
    cfg.retry_interval = Duration::from_millis(200);
    let mut es = Vec::new();
    for i in 0..3 {
        let id = format!("replica-{i}");
        let name = id.clone();
        es.push(Arc::new(
            Election::start(&rl, "queue-owner", &id, cfg.clone(), move |ev| match ev {
                ElectionEvent::Elected { term, .. } => {
                    println!("{} {name}: ELECTED, term {term}", stamp())
                }
                ElectionEvent::Revoked { term, reason, .. } => {
                    println!("{} {name}: revoked (term {term}, {reason})", stamp())
                }
                ElectionEvent::LeaderChanged { .. } => {}
            })
            .unwrap(),
        ));
    }
    let leader = |es: &[Arc<Election>]| es.iter().position(|e| e.is_leader());
    let wait = |es: Vec<Arc<Election>>, not: Option<usize>| async move {
        loop {
            if let Some(i) = leader(&es).filter(|&i| Some(i) != not) {
                return i;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    };
    let l = wait(es.clone(), None).await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    println!(
        "{} every replica agrees: leader is {:?}",
        stamp(),
        es[(l + 1) % 3].leader().await.unwrap()
    );

    println!("\n-- 6. the leader resigns: a follower takes over at once --");
    let t = Instant::now();
    es[l].resign().await.unwrap();
    let l2 = wait(es.clone(), Some(l)).await;
    println!(
        "{} handover to replica-{l2} took {:.1} ms",
        stamp(),
        t.elapsed().as_secs_f64() * 1e3
    );

    println!("\n-- 7. the leader crashes (no release): replaced within ttl + retry interval --");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let t = Instant::now();
    es[l2].crash();
    println!("{} replica-{l2} crashed", stamp());
    let l3 = wait(es.clone(), Some(l2)).await;
    println!(
        "{} replica-{l3} took over after {} ms (ttl 1000 + retry 200)",
        stamp(),
        t.elapsed().as_millis()
    );

    println!("\n-- 8. a quorum of nodes freezes (SIGSTOP): the leader steps down before its validity ends --");
    for i in 0..3 {
        cluster.nodes[i].freeze();
    }
    let t = Instant::now();
    while es[l3].is_leader() {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    println!(
        "{} replica-{l3} stepped down {} ms after the freeze (ttl 1000 ms)",
        stamp(),
        t.elapsed().as_millis()
    );
    for i in 0..3 {
        cluster.nodes[i].thaw();
    }
    let l4 = wait(es.clone(), None).await;
    println!("{} nodes thawed; replica-{l4} leads", stamp());
    for e in &es {
        e.stop().await.unwrap();
    }
    println!("\n== done: nodes stopped ==");
}
