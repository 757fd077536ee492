//! One worker among several processes the expired keys of a Redis Cluster.
//!
//! After the article on redsync over a Redis Cluster (a service runs several
//! replicas for availability; only one of them may handle the cluster's
//! expired keys at a time, and another takes over when it dies): every
//! replica of the service runs this program, they elect a leader on the
//! cluster itself (one Redlock node, `redis+cluster://`), and only the leader
//! subscribes to `expired` events and processes them. On losing leadership
//! it unsubscribes at once; a crashed leader is replaced after the lock's ttl.
//!
//! Keyspace notifications are node-local in a Cluster: each master announces
//! the expirations of its own keys only. So the leader subscribes on every
//! master, and looks the masters up again when a subscription ends (a master
//! died; after a failover its replica serves the slots). An expiration that
//! happens while no leader is subscribed is not seen by anyone: Redis
//! pub/sub does not keep messages. Work that must not be missed needs a
//! durable queue (a stream, a sorted set of deadlines), not these events.
//!
//! Run against a local cluster (redis-cli prints the ports it uses):
//!
//! ```sh
//! for p in 7000 7001 7002 7003 7004 7005; do
//!   mkdir -p /tmp/rc-$p && redis-server --port $p --dir /tmp/rc-$p --cluster-enabled yes \
//!     --cluster-config-file nodes.conf --save '' --daemonize yes
//! done
//! redis-cli --cluster create 127.0.0.1:700{0..5} --cluster-replicas 1 --cluster-yes
//! URL=redis+cluster://127.0.0.1:7000,127.0.0.1:7001,127.0.0.1:7002
//! cargo run -p redlead --example cluster_expired -- $URL worker-a &
//! cargo run -p redlead --example cluster_expired -- $URL worker-b &
//! redis-cli -c -p 7000 set order:42 pending px 500   # one of the two prints it
//! ```
//!
//! Arguments: `<redis+cluster URL> <worker id> [seconds to run]`. It sets
//! `notify-keyspace-events Ex` on every master it subscribes to; in
//! production set it in redis.conf instead.

use std::time::Duration;

use futures::StreamExt;
use redlead::{Config, Election, ElectionConfig, ElectionEvent, Redlock};
use tokio::sync::watch;

/// The channel on which a node announces the keys of database 0 that expired.
const EXPIRED: &str = "__keyevent@0__:expired";

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(url), Some(id)) = (args.first(), args.get(1)) else {
        eprintln!("usage: cluster_expired <redis+cluster://h:p,h:p> <worker id> [seconds]");
        std::process::exit(64);
    };
    let run_for = args
        .get(2)
        .and_then(|s| s.parse().ok())
        .map(Duration::from_secs_f64)
        .unwrap_or(Duration::MAX);
    let seeds = seeds_of(url).unwrap_or_else(|| {
        eprintln!("not a redis+cluster:// URL: {url}");
        std::process::exit(64);
    });

    let redlock = Redlock::new(&[url], Config::default()).unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(64);
    });
    let (leading_tx, mut leading) = watch::channel(None::<u64>);
    let me = id.clone();
    let election = Election::start(
        &redlock,
        "cluster-expired-worker",
        id,
        ElectionConfig::with_ttl(Duration::from_secs(3)),
        move |event| match event {
            ElectionEvent::Elected { term, .. } => {
                println!("{me}: elected, term {term}");
                let _ = leading_tx.send(Some(*term));
            }
            ElectionEvent::Revoked { term, reason, .. } => {
                println!("{me}: stopped leading term {term}: {reason}");
                let _ = leading_tx.send(None);
            }
            ElectionEvent::LeaderChanged { .. } => {}
        },
    )
    .expect("valid election settings");

    let work = async {
        loop {
            // Followers do nothing but wait; the campaign runs in the background.
            let Ok(term) = leading.wait_for(Option::is_some).await.map(|t| t.unwrap()) else {
                return;
            };
            tokio::select! {
                _ = leading.wait_for(|t| *t != Some(term)) => {}
                r = process_expired(&seeds, &election, term) => if let Err(e) = r {
                    eprintln!("{id}: subscription ended ({e}); looking the masters up again");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        }
    };
    let _ = tokio::time::timeout(run_for, work).await;
    let _ = election.stop().await;
    println!("{id}: done");
}

/// Subscribes to expirations on every master and handles them until a
/// subscription ends. Runs only while leading (the caller drops it on
/// losing leadership).
async fn process_expired(
    seeds: &[String],
    election: &Election,
    term: u64,
) -> redis::RedisResult<()> {
    let id = election.id();
    let masters = masters(seeds).await?;
    println!("{id}: subscribing to expirations on masters {masters:?}");
    let mut streams = Vec::new();
    for addr in &masters {
        let client = redis::Client::open(format!("redis://{addr}"))?;
        let mut conn = client.get_multiplexed_async_connection().await?;
        redis::cmd("CONFIG")
            .arg("SET")
            .arg("notify-keyspace-events")
            .arg("Ex")
            .exec_async(&mut conn)
            .await?;
        let mut pubsub = client.get_async_pubsub().await?;
        pubsub.subscribe(EXPIRED).await?;
        streams.push(pubsub.into_on_message());
    }
    let mut events = futures::stream::select_all(streams);
    while let Some(msg) = events.next().await {
        let key: String = msg.get_payload()?;
        // Leadership is checked on the clock for each event: the Revoked
        // event that ends this function may arrive a moment after it ended.
        if !election.is_leader() {
            break;
        }
        // The work on the expired key goes here; term is the fencing token
        // to pass to any store the work writes to.
        println!("{id}: processed expired key {key} (term {term})");
    }
    Err(std::io::Error::other("a subscription ended").into())
}

/// The addresses of the masters that serve slots, from the first seed that
/// answers `CLUSTER NODES`.
async fn masters(seeds: &[String]) -> redis::RedisResult<Vec<String>> {
    let mut last = None;
    for seed in seeds {
        let reply = async {
            let client = redis::Client::open(format!("redis://{seed}"))?;
            let mut conn = client.get_multiplexed_async_connection().await?;
            redis::cmd("CLUSTER")
                .arg("NODES")
                .query_async::<String>(&mut conn)
                .await
        };
        match tokio::time::timeout(Duration::from_secs(1), reply).await {
            Ok(Ok(text)) => return Ok(serving_masters(&text)),
            Ok(Err(e)) => last = Some(e),
            Err(_) => last = Some(std::io::Error::other(format!("{seed}: timeout")).into()),
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::other("no seeds").into()))
}

/// `ip:port` of every master with slots and without a failure flag, from
/// `CLUSTER NODES` (`<id> <ip:port@bus> <flags> <master> ... <slots>`).
fn serving_masters(cluster_nodes: &str) -> Vec<String> {
    cluster_nodes
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .filter(|f| f.len() > 8 && f[2].contains("master") && !f[2].contains("fail"))
        .filter_map(|f| f[1].split('@').next().map(str::to_string))
        .collect()
}

/// `h:p` of each seed of a `redis+cluster://h:p,h:p` URL without credentials.
fn seeds_of(url: &str) -> Option<Vec<String>> {
    let hosts = url.strip_prefix("redis+cluster://")?;
    let hosts = hosts.split(['/', '?']).next()?;
    Some(hosts.split(',').map(str::to_string).collect())
}
