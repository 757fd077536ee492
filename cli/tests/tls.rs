//! rediss:// nodes with a private CA: `--tls-ca` for the library's
//! connections and for `status`'s own.

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::*;
use redlead_harness::{Node, TlsFiles};

#[test]
fn tls_nodes_with_a_private_ca_work_for_lock_and_status() {
    let files = TlsFiles::generate();
    let nodes: Vec<Node> = (0..3).map(|_| Node::start_tls(&files)).collect();
    let urls: Vec<String> = nodes.iter().map(|n| n.tls_url().unwrap()).collect();
    let dir = tempdir();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &files.ca_pem).unwrap();
    let started = dir.path().join("started");
    let tls = |cmd: &mut std::process::Command| {
        cmd.env("REDLEAD_NODES", urls.join(","))
            .arg("--tls-ca")
            .arg(&ca);
    };

    let mut holder = bare();
    tls(&mut holder);
    let holder = holder
        .args([
            "lock",
            "secure-job",
            "--owner",
            "tls-holder",
            "--",
            "sh",
            "-c",
        ])
        .arg(format!(
            "echo $REDLEAD_FENCING_TOKEN > {}; sleep 30",
            started.display()
        ))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    assert!(
        wait_file(&started, Duration::from_secs(10)),
        "locked over TLS"
    );

    let mut status = bare();
    tls(&mut status);
    let out = run(
        status.args(["status", "secure-job", "--json"]),
        Duration::from_secs(10),
    );
    assert!(out.status.success(), "{}", stderr_of(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let r = &v["resources"][0];
    assert_eq!(r["holder"]["owner"], "tls-holder");
    for n in r["nodes"].as_array().unwrap() {
        assert_eq!(n["owner"], "tls-holder", "{n}");
    }

    // Without the CA the nodes' certificates are not trusted.
    let out = run(
        bare()
            .env("REDLEAD_NODES", urls.join(","))
            .args(["lock", "other", "--", "true"]),
        Duration::from_secs(10),
    );
    assert_eq!(out.status.code(), Some(69), "{}", stderr_of(&out));

    signal(&holder, libc::SIGTERM);
    let out = wait_output(holder, Duration::from_secs(10));
    assert_eq!(out.status.code(), Some(128 + 15), "{}", stderr_of(&out));
    println!("checked: lock and status over rediss:// with --tls-ca; 69 without it");
}
