//! Waiting acquires woken by the holder's release announcement.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use redlead::{Config, Redlock};
use redlead_harness::{Cluster, Node};
use tokio::time::Instant;

const TTL: Duration = Duration::from_secs(10);

/// A long retry delay, so that only a wake-up can explain a quick acquire.
fn slow_retry(cluster: &Cluster) -> Redlock {
    Redlock::new(
        &cluster.urls(),
        Config::default().with_retry(Duration::from_secs(3), Duration::ZERO, None),
    )
    .unwrap()
}

/// Connections subscribed to one channel on a node (CLIENT LIST TYPE
/// pubsub; None when the node does not answer). Only the waiter subscribes.
fn subscribers(node: &Node) -> Option<usize> {
    let clients = node.command(&["CLIENT", "LIST", "TYPE", "pubsub"])?;
    Some(clients.lines().filter(|l| l.contains("sub=1")).count())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiter_is_woken_by_the_release_instead_of_sleeping_its_retry_delay() {
    let cluster = Cluster::start_in_memory(3);
    let holder = slow_retry(&cluster);
    let waiter = slow_retry(&cluster);
    common::warm(&holder).await;
    common::warm(&waiter).await;
    for round in 0..3 {
        let held = holder.try_acquire("wake", TTL).await.unwrap();
        let w = waiter.clone();
        let waiting = tokio::spawn(async move {
            let lock = w
                .acquire("wake", TTL, Duration::from_secs(8))
                .await
                .unwrap();
            (Instant::now(), lock)
        });
        // The waiter subscribes only once its first attempt failed.
        common::settle("the waiter subscribed on every node", || {
            cluster.nodes.iter().all(|n| subscribers(n) == Some(1))
        })
        .await;
        let released = Instant::now();
        held.release().await.unwrap();
        let (acquired, lock) = waiting.await.unwrap();
        let waited = acquired - released;
        println!(
            "round {round}: waiter held the lock {waited:?} after the release (retry delay 3 s)"
        );
        assert!(
            waited < Duration::from_millis(500),
            "the waiter slept instead of being woken: {waited:?}"
        );
        // A quorum at least: on the last node the waiter's SET may have
        // arrived before the holder's release there (another connection).
        assert!(cluster.count_value(lock.key(), lock.value()) >= 2);
        // It listens only while it waits.
        common::settle("the waiter's subscriptions closed", || {
            cluster.nodes.iter().all(|n| subscribers(n) == Some(0))
        })
        .await;
        lock.release().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn release_is_announced_by_each_node_where_the_key_is_free_and_nowhere_else() {
    let cluster = Cluster::start_in_memory(3);
    let rl = Redlock::new(&cluster.urls(), Config::default()).unwrap();
    common::warm(&rl).await;
    let channel = rl.config().key_format.release_channel("announced");
    let heard: Arc<Mutex<Vec<(usize, String)>>> = Arc::default();
    let mut listeners = vec![];
    for (i, url) in cluster.urls().iter().enumerate() {
        let client = redis::Client::open(url.as_str()).unwrap();
        let mut pubsub = client.get_async_pubsub().await.unwrap();
        pubsub.subscribe(&channel).await.unwrap();
        let heard = heard.clone();
        listeners.push(tokio::spawn(async move {
            let mut messages = pubsub.into_on_message();
            while let Some(m) = messages.next().await {
                let payload: String = m.get_payload().unwrap();
                heard.lock().unwrap().push((i, payload));
            }
        }));
    }
    // Every node deletes the key and announces the released value.
    let lock = rl.try_acquire("announced", TTL).await.unwrap();
    let value = lock.value().to_string();
    lock.release().await.unwrap();
    common::settle("three announcements", || heard.lock().unwrap().len() == 3).await;
    let mut nodes: Vec<usize> = heard.lock().unwrap().iter().map(|(i, _)| *i).collect();
    nodes.sort();
    assert_eq!(nodes, vec![0, 1, 2]);
    assert!(heard.lock().unwrap().iter().all(|(_, v)| *v == value));
    heard.lock().unwrap().clear();

    // Where another holder's value sits, nothing is deleted or announced.
    let lock = rl.try_acquire("announced", TTL).await.unwrap();
    let other = "0123456789abcdef0123456789abcdef:someone-else";
    cluster.nodes[0].command(&["SET", lock.key(), other]);
    lock.release().await.unwrap();
    common::settle("two announcements", || heard.lock().unwrap().len() == 2).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let from: Vec<usize> = heard.lock().unwrap().iter().map(|(i, _)| *i).collect();
    println!("announced by nodes {from:?} (node 0 held another value)");
    assert!(
        !from.contains(&0),
        "a node where another holder's key sits announced: {from:?}"
    );
    assert_eq!(from.len(), 2);
    assert_eq!(cluster.nodes[0].get(lock.key()).as_deref(), Some(other));
    for l in listeners {
        l.abort();
    }
}
