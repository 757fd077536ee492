//! `redlead lock` on real nodes: mutual exclusion, the lost lock stopping
//! CMD in time, statuses, signals.

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::*;
use redlead_harness::Cluster;

#[test]
fn concurrent_locks_on_one_resource_never_overlap() {
    let cluster = Cluster::start(5);
    let dir = tempdir();
    let log = dir.path().join("log");
    let script = format!(
        "echo \"start $$\" >> {log}; sleep 0.3; echo \"end $$\" >> {log}",
        log = log.display()
    );
    let children: Vec<_> = (0..4)
        .map(|_| {
            redlead(&cluster)
                .args([
                    "lock", "shared", "--ttl", "5s", "--wait", "20s", "--", "sh", "-c",
                ])
                .arg(&script)
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let out = wait_output(c, Duration::from_secs(30));
        assert!(
            out.status.success(),
            "redlead lock failed: {}",
            stderr_of(&out)
        );
    }
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    println!("injected: 4 concurrent `redlead lock shared`; log:\n{text}");
    assert_eq!(lines.len(), 8, "every CMD ran once");
    for pair in lines.chunks(2) {
        let start = pair[0].strip_prefix("start ").expect("a start line");
        assert_eq!(pair[1], format!("end {start}"), "interleaved: {lines:?}");
    }
    println!("checked: 4 start/end pairs, never interleaved");
}

#[test]
fn cmd_is_stopped_before_the_validity_ends_when_the_lock_is_lost() {
    let mut cluster = Cluster::start(5);
    let dir = tempdir();
    let (started, termed) = (dir.path().join("started"), dir.path().join("term"));
    // The trap runs once the current `sleep` ends (<= 50 ms).
    let script = format!(
        "trap 'date +%s%N > {term}; exit 143' TERM; echo $$ > {started}; while true; do sleep 0.05; done",
        term = termed.display(),
        started = started.display()
    );
    let ttl = Duration::from_secs(2);
    let child = redlead(&cluster)
        .args(["lock", "fragile", "--ttl", "2s", "--", "sh", "-c", &script])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    assert!(
        wait_file(&started, Duration::from_secs(10)),
        "CMD never started"
    );
    // Let at least one extension happen, then cut the lock off its quorum.
    std::thread::sleep(Duration::from_millis(800));
    let frozen_at = now_ns();
    for i in 0..3 {
        cluster.nodes[i].freeze();
    }
    println!("injected: SIGSTOP to 3 of 5 nodes while CMD runs (ttl 2s)");
    let out = wait_output(child, Duration::from_secs(10));
    for i in 0..3 {
        cluster.nodes[i].thaw();
    }
    let stderr = stderr_of(&out);
    assert_eq!(out.status.code(), Some(75), "lost status; stderr: {stderr}");
    assert!(stderr.contains("lost"), "says the lock was lost: {stderr}");
    assert!(!stderr.contains("panicked"));
    let term_ns: u128 = std::fs::read_to_string(&termed)
        .expect("CMD got SIGTERM")
        .trim()
        .parse()
        .unwrap();
    // The last successful extension began before the freeze, so the
    // validity ends before frozen_at + ttl; SIGTERM must come a grace
    // period (default ttl/10) before that.
    let after = Duration::from_nanos((term_ns - frozen_at) as u64);
    println!("checked: status 75; SIGTERM reached CMD {after:?} after the freeze (validity ends < {ttl:?} after it)");
    assert!(
        after < ttl - ttl / 10,
        "SIGTERM came {after:?} after the freeze"
    );
}

#[test]
fn cmd_status_is_propagated() {
    let cluster = Cluster::start(5);
    let out = run(
        redlead(&cluster).args([
            "lock",
            "status-job",
            "--",
            "sh",
            "-c",
            r#"test -n "$REDLEAD_FENCING_TOKEN" && test "$REDLEAD_RESOURCE" = status-job && exit 42"#,
        ]),
        Duration::from_secs(10),
    );
    assert_eq!(out.status.code(), Some(42), "{}", stderr_of(&out));
    let out = run(
        redlead(&cluster).args(["lock", "status-job", "--", "sh", "-c", "kill -9 $$"]),
        Duration::from_secs(10),
    );
    assert_eq!(out.status.code(), Some(128 + 9), "{}", stderr_of(&out));
    let out = run(
        redlead(&cluster).args([
            "lock",
            "status-job",
            "--fencing-env",
            "MY_TOKEN",
            "--",
            "sh",
            "-c",
            r#"echo "$MY_TOKEN""#,
        ]),
        Duration::from_secs(10),
    );
    assert!(out.status.success());
    let token: u64 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
    assert!(
        token >= 3,
        "the third fenced acquisition of the resource got {token}"
    );
    assert!(
        wait_key_gone(&cluster, "redlead:{status-job}"),
        "released on every node"
    );
    println!("checked: exit 42 and 137 passed through, token in MY_TOKEN, lock released");
}

#[test]
fn a_held_lock_is_not_acquired_within_wait_and_says_by_whom() {
    let cluster = Cluster::start(5);
    let dir = tempdir();
    let started = dir.path().join("started");
    let holder = redlead(&cluster)
        .args(["lock", "busy", "--owner", "night-batch", "--", "sh", "-c"])
        .arg(format!("echo 1 > {}; sleep 3", started.display()))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    assert!(wait_file(&started, Duration::from_secs(10)));
    let out = run(
        redlead(&cluster).args(["lock", "busy", "--wait", "300ms", "--", "true"]),
        Duration::from_secs(10),
    );
    let stderr = stderr_of(&out);
    assert_eq!(out.status.code(), Some(73), "{stderr}");
    assert!(stderr.contains("night-batch"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    let out = wait_output(holder, Duration::from_secs(10));
    assert!(out.status.success());
    println!("checked: 73 and the holder's name while held: {stderr}");
}

#[test]
fn sigterm_is_forwarded_and_the_lock_released_after_cmd_exits() {
    let cluster = Cluster::start(5);
    let dir = tempdir();
    let (started, got) = (dir.path().join("started"), dir.path().join("got"));
    let script = format!(
        "trap 'echo TERM > {got}; exit 7' TERM; echo 1 > {started}; while true; do sleep 0.05; done",
        got = got.display(),
        started = started.display()
    );
    let child = redlead(&cluster)
        .args(["lock", "forwarded", "--", "sh", "-c", &script])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    assert!(wait_file(&started, Duration::from_secs(10)));
    assert_eq!(cluster.count_key("redlead:{forwarded}"), 5);
    signal(&child, libc::SIGTERM);
    let out = wait_output(child, Duration::from_secs(10));
    assert_eq!(out.status.code(), Some(7), "{}", stderr_of(&out));
    assert_eq!(std::fs::read_to_string(&got).unwrap().trim(), "TERM");
    assert!(wait_key_gone(&cluster, "redlead:{forwarded}"));
    println!("checked: SIGTERM reached CMD, redlead exited with CMD's 7, the key is gone");
}

fn wait_key_gone(cluster: &Cluster, key: &str) -> bool {
    let start = std::time::Instant::now();
    while start.elapsed() < Duration::from_millis(500) {
        if cluster.count_key(key) == 0 {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}
