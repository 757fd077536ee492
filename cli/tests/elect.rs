//! `redlead elect` with several processes on real nodes.

mod common;

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::*;
use redlead_harness::Cluster;

/// Lines "<id> <term> <pid>" appended by each CMD that ran.
fn runs(path: &std::path::Path) -> Vec<(String, u64, i32)> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| {
            let mut f = l.split_whitespace();
            (
                f.next().unwrap().to_string(),
                f.next().unwrap().parse().unwrap(),
                f.next().unwrap().parse().unwrap(),
            )
        })
        .collect()
}

/// Running: exists and is not a zombie (a killed CMD is reparented, and
/// whoever reaps orphans here may take its time).
fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

#[test]
fn three_candidates_run_cmd_on_exactly_one_and_fail_over_when_it_dies() {
    let cluster = Cluster::start(5);
    let dir = tempdir();
    let log = dir.path().join("runs");
    let script = format!(
        "echo \"$REDLEAD_LEADER_ID $REDLEAD_TERM $$\" >> {}; exec sleep 30",
        log.display()
    );
    let mut procs: Vec<(String, Child)> = (0..3)
        .map(|i| {
            let id = format!("cand-{i}");
            let child = redlead(&cluster)
                .args([
                    "elect",
                    "the-service",
                    "--id",
                    &id,
                    "--ttl",
                    "2s",
                    "--",
                    "sh",
                    "-c",
                    &script,
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            (id, child)
        })
        .collect();
    assert!(wait_file(&log, Duration::from_secs(10)), "no CMD started");
    // Long enough for a wrong second leader to show up (renewals, retries).
    std::thread::sleep(Duration::from_millis(2500));
    let first = runs(&log);
    assert_eq!(
        first.len(),
        1,
        "CMD ran on exactly one candidate: {first:?}"
    );
    let (leader_id, term, cmd_pid) = first[0].clone();
    println!("checked: 3 candidates, CMD ran once, on {leader_id} (term {term})");

    // SIGKILL the leading redlead: the kernel kills its CMD, the lease runs
    // out and one of the two others runs CMD.
    let at = procs.iter().position(|(id, _)| *id == leader_id).unwrap();
    let (_, mut leader) = procs.remove(at);
    leader.kill().unwrap();
    leader.wait().unwrap();
    let t = Instant::now();
    println!("injected: SIGKILL to the leading redlead ({leader_id})");
    while alive(cmd_pid) && t.elapsed() < Duration::from_secs(2) {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(!alive(cmd_pid), "CMD of a dead redlead is killed with it");
    while runs(&log).len() < 2 && t.elapsed() < Duration::from_secs(8) {
        std::thread::sleep(Duration::from_millis(10));
    }
    let took = t.elapsed();
    assert!(
        took < Duration::from_millis(3500),
        "takeover after {took:?} (ttl 2s)"
    );
    // Long enough for a wrong second taker to show up.
    std::thread::sleep(Duration::from_millis(1000));
    let all = runs(&log);
    assert_eq!(all.len(), 2, "exactly one new leader ran CMD: {all:?}");
    assert_ne!(all[1].0, leader_id);
    assert!(all[1].1 > term, "a new, higher term");
    println!(
        "checked: old CMD killed with its redlead; {} took over (term {}) after {:?}",
        all[1].0, all[1].1, took
    );

    // SIGTERM to everyone: forwarded to CMD (sleep dies), the leader resigns.
    for (_, c) in &procs {
        signal(c, libc::SIGTERM);
    }
    for (id, mut c) in procs {
        let s = wait_status(&mut c, Duration::from_secs(10));
        if id == all[1].0 {
            assert_eq!(s.code(), Some(128 + 15), "leader exits with CMD's status");
        } else {
            assert_eq!(
                s.code(),
                Some(128 + 15),
                "a follower exits like a shell on SIGTERM"
            );
        }
    }
}

#[test]
fn cmd_exiting_while_leading_resigns_and_passes_its_status() {
    let cluster = Cluster::start(5);
    let out = run(
        redlead(&cluster).args([
            "elect",
            "short-job",
            "--id",
            "solo",
            "--ttl",
            "2s",
            "--",
            "sh",
            "-c",
            r#"test "$REDLEAD_LEADER_ID" = solo && test "$REDLEAD_TERM" -ge 1 && exit 9"#,
        ]),
        Duration::from_secs(10),
    );
    assert_eq!(out.status.code(), Some(9), "{}", stderr_of(&out));
    assert_eq!(
        cluster.count_key("redlead:{short-job}"),
        0,
        "resigned: released"
    );
    println!("checked: CMD's 9 passed through, leadership released");
}

#[test]
fn once_leader_stops_cmd_before_its_lease_ends_when_a_quorum_freezes() {
    let mut cluster = Cluster::start(5);
    let dir = tempdir();
    let (started, termed) = (dir.path().join("started"), dir.path().join("term"));
    let script = format!(
        "trap 'date +%s%N > {term}; exit 143' TERM; echo $$ > {started}; while true; do sleep 0.05; done",
        term = termed.display(),
        started = started.display()
    );
    let child = redlead(&cluster)
        .args([
            "elect",
            "fragile-lead",
            "--id",
            "only",
            "--ttl",
            "2s",
            "--once",
            "--",
            "sh",
            "-c",
            &script,
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    assert!(
        wait_file(&started, Duration::from_secs(10)),
        "CMD never started"
    );
    std::thread::sleep(Duration::from_millis(800));
    let frozen_at = now_ns();
    for i in 0..3 {
        cluster.nodes[i].freeze();
    }
    println!("injected: SIGSTOP to 3 of 5 nodes while the leader's CMD runs (ttl 2s)");
    let out = wait_output(child, Duration::from_secs(10));
    for i in 0..3 {
        cluster.nodes[i].thaw();
    }
    let stderr = stderr_of(&out);
    assert_eq!(out.status.code(), Some(75), "{stderr}");
    let term_ns: u128 = std::fs::read_to_string(&termed)
        .expect("CMD got SIGTERM")
        .trim()
        .parse()
        .unwrap();
    let after = Duration::from_nanos((term_ns - frozen_at) as u64);
    println!("checked: status 75; SIGTERM reached CMD {after:?} after the freeze (the lease ends < 2s after it)");
    assert!(
        after < Duration::from_millis(1800),
        "SIGTERM came {after:?} after the freeze"
    );
}
