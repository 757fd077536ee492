//! `redlead observe` on real nodes.

mod common;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;

use common::*;
use redlead_harness::Cluster;

const KEY: &str = "redlead:{queue}";

fn set_everywhere(cluster: &Cluster, args: &[&str]) {
    for n in &cluster.nodes {
        n.command(args);
    }
}

#[test]
fn observe_prints_the_leader_and_each_change_and_stops_on_sigterm() {
    let cluster = Cluster::start_in_memory(3);
    set_everywhere(
        &cluster,
        &["SET", KEY, "0123456789abcdef0123456789abcdef:worker-1"],
    );
    let mut child = redlead(&cluster)
        .args(["observe", "queue", "--poll", "50ms", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, lines) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let next = |what: &str| {
        let line = lines
            .recv_timeout(Duration::from_secs(5))
            .unwrap_or_else(|_| panic!("no line for {what}"));
        println!("{what}: {line}");
        serde_json::from_str::<serde_json::Value>(&line).expect("one JSON object per line")
    };
    let first = next("the leader at start");
    assert_eq!(first["resource"], "queue");
    assert_eq!(first["leader"], "worker-1");
    set_everywhere(&cluster, &["DEL", KEY]);
    let gone = next("nobody holds it");
    assert!(
        gone["leader"].is_null() && gone["value"].is_null(),
        "{gone}"
    );
    // On 2 of 3 nodes: still a quorum.
    for n in &cluster.nodes[1..] {
        n.command(&["SET", KEY, "0123456789abcdef0123456789abcdee:worker-2"]);
    }
    let second = next("worker-2 on 2 of 3 nodes");
    assert_eq!(second["leader"], "worker-2");
    signal(&child, libc::SIGTERM);
    let status = wait_status(&mut child, Duration::from_secs(5));
    assert_eq!(status.code(), Some(0), "SIGTERM ends it with 0");
}

#[test]
fn observe_plain_output_and_bad_input() {
    let cluster = Cluster::start_in_memory(3);
    let mut child = redlead(&cluster)
        .args(["observe", "idle", "--poll", "50ms"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert_eq!(first.trim(), "(none)");
    signal(&child, libc::SIGINT);
    assert_eq!(
        wait_status(&mut child, Duration::from_secs(5)).code(),
        Some(0)
    );
    let out = run(
        redlead(&cluster).args(["observe", "x", "--poll", "0s"]),
        Duration::from_secs(10),
    );
    assert_eq!(out.status.code(), Some(64), "{}", stderr_of(&out));
    assert!(
        stderr_of(&out).contains("poll_interval"),
        "{}",
        stderr_of(&out)
    );
}
