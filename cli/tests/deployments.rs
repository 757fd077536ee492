//! The command line takes a Redis Cluster (`redis+cluster://h:p,h:p`) as
//! one node, alone or in a comma-separated list with other nodes, without
//! anything of its own: the library parses the URL.

mod common;

use std::time::Duration;

use common::*;
use redlead_harness::{Cluster, RedisCluster};

#[test]
fn lock_and_status_take_a_cluster_node_alone_and_in_a_node_list() {
    let cluster = RedisCluster::start();
    let standalone = Cluster::start(2);
    let url = cluster.url();

    // --node: the cluster's host list keeps its commas.
    let out = run(
        bare().args(["--node", &url, "lock", "cluster-job", "--", "echo", "ran"]),
        Duration::from_secs(20),
    );
    println!("redlead --node {url} lock: {}", stderr_of(&out));
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "ran");

    // REDLEAD_NODES: a list of three nodes, one of them the cluster.
    let list = format!("{url},{}", standalone.urls().join(","));
    let dir = tempdir();
    let marker = dir.path().join("held");
    let script = format!("touch {}; sleep 0.3", marker.display());
    let out = run(
        bare()
            .env("REDLEAD_NODES", &list)
            .args(["lock", "mixed-job", "--", "sh", "-c", &script]),
        Duration::from_secs(20),
    );
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(marker.exists());

    let out = run(
        bare()
            .env("REDLEAD_NODES", &list)
            .args(["status", "mixed-job", "--json"]),
        Duration::from_secs(20),
    );
    assert!(out.status.success(), "{}", stderr_of(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("valid JSON");
    println!("status: {v}");
    assert_eq!(v["nodes"], 3, "the list is three nodes");
    let nodes = v["resources"][0]["nodes"].as_array().unwrap();
    assert_eq!(nodes[0]["node"], url);
    assert!(nodes[0]["error"]
        .as_str()
        .unwrap()
        .contains("cluster or sentinel"));
    assert_eq!(nodes[1]["ok"], true);
}
