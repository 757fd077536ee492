//! `redlead status` on real nodes.

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::*;
use redlead_harness::Cluster;

#[test]
fn status_json_parses_and_names_the_holder() {
    let mut cluster = Cluster::start(5);
    let dir = tempdir();
    let started = dir.path().join("started");
    let holder = redlead(&cluster)
        .args([
            "lock",
            "reports",
            "--owner",
            "report-builder",
            "--ttl",
            "10s",
            "--",
            "sh",
            "-c",
        ])
        .arg(format!("echo 1 > {}; sleep 30", started.display()))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    assert!(wait_file(&started, Duration::from_secs(10)));
    assert!(wait_key(
        &cluster,
        "redlead:{reports}",
        5,
        Duration::from_secs(2)
    ));
    cluster.nodes[4].kill();
    println!("injected: node 4 killed");
    let out = run(
        redlead(&cluster).args(["status", "reports", "nothing-here", "--json"]),
        Duration::from_secs(10),
    );
    assert!(out.status.success(), "{}", stderr_of(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("valid JSON");
    let r = &v["resources"][0];
    assert_eq!(r["resource"], "reports");
    assert_eq!(r["holder"]["owner"], "report-builder");
    let nodes = r["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 5);
    for n in &nodes[..4] {
        assert_eq!(n["owner"], "report-builder");
        assert!(n["ttl_ms"].as_i64().unwrap() > 5000);
        assert!(n["fence"].as_u64().unwrap() >= 1);
    }
    assert_eq!(nodes[4]["ok"], false);
    assert!(nodes[4]["error"].is_string());
    assert!(v["resources"][1]["holder"].is_null(), "a free resource");
    println!(
        "checked: JSON names report-builder on 4 nodes and by quorum; the dead node has an error"
    );

    let out = run(
        redlead(&cluster).args(["status", "reports"]),
        Duration::from_secs(10),
    );
    let text = String::from_utf8_lossy(&out.stdout);
    println!("{text}");
    assert!(text.contains("held by report-builder"), "{text}");

    signal(&holder, libc::SIGTERM);
    let out = wait_output(holder, Duration::from_secs(10));
    assert_eq!(out.status.code(), Some(128 + 15));
}
