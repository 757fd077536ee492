//! Bad input: one clear line on stderr, a documented status, no panic, no
//! password.

mod common;

use std::time::Duration;

use common::*;

const SECRET: &str = "hunter2-very-secret";

fn check(args: &[&str], nodes: Option<&str>, status: i32, mentions: &str) {
    let mut cmd = bare();
    if let Some(n) = nodes {
        cmd.env("REDLEAD_NODES", n);
    }
    let out = run(cmd.args(args), Duration::from_secs(10));
    let stderr = stderr_of(&out);
    println!("redlead {args:?} -> {:?}: {stderr}", out.status.code());
    assert_eq!(out.status.code(), Some(status), "{args:?}: {stderr}");
    assert_eq!(
        stderr.lines().count(),
        1,
        "{args:?}: one line, got: {stderr}"
    );
    assert!(stderr.starts_with("redlead: "), "{stderr}");
    assert!(
        stderr.contains(mentions),
        "{args:?} should mention {mentions:?}: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!stderr.contains(SECRET), "password printed: {stderr}");
}

#[test]
fn bad_input_gets_one_line_and_its_status() {
    let down = "redis://127.0.0.1:1";
    check(
        &["lock", "r", "--bogus", "--", "true"],
        Some(down),
        64,
        "--bogus",
    );
    check(&["lock", "r", "true"], Some(down), 64, "--");
    check(&["lock", "r"], Some(down), 64, "<CMD>");
    check(&["lock", "r", "--"], Some(down), 64, "<CMD>");
    check(&["elect", "r", "--id", "a"], Some(down), 64, "<CMD>");
    check(&["status"], Some(down), 64, "RESOURCE");
    check(&["lock", "r", "--", "true"], None, 64, "no nodes");
    check(
        &["lock", "r", "--ttl", "0s", "--", "true"],
        Some(down),
        64,
        "ttl",
    );
    check(
        &["lock", "r", "--ttl", "ten", "--", "true"],
        Some(down),
        64,
        "--ttl",
    );
    check(
        &["lock", "r", "--ttl", "2s", "--grace", "1s", "--", "true"],
        Some(down),
        64,
        "--grace",
    );
    check(
        &["lock", "r", "--", "no-such-command-xyz"],
        Some(down),
        127,
        "not found",
    );
    let dir = tempdir();
    let not_executable = dir.path().join("data.txt");
    std::fs::write(&not_executable, "not a program").unwrap();
    let not_executable = not_executable.to_str().unwrap();
    check(
        &["lock", "r", "--", not_executable],
        Some(down),
        126,
        "cannot execute",
    );
    check(
        &["--tls-ca", "/no/such/ca.pem", "lock", "r", "--", "true"],
        Some(down),
        64,
        "--tls-ca",
    );
    check(
        &["--tls-cert", "c.pem", "lock", "r", "--", "true"],
        Some(down),
        64,
        "--tls-key",
    );
    let bad_url = format!("redis://admin:{SECRET}@bad host:x");
    check(
        &["lock", "r", "--", "true"],
        Some(&bad_url),
        64,
        "bad node URL",
    );
    let unreachable = format!("redis://admin:{SECRET}@127.0.0.1:1,redis://127.0.0.1:2");
    check(
        &["lock", "r", "--", "true"],
        Some(&unreachable),
        69,
        "unreachable",
    );
    check(
        &[
            "--node",
            &format!("redis://u:{SECRET}@127.0.0.1:1"),
            "elect",
            "r",
            "--",
            "true",
        ],
        None,
        69,
        "unreachable",
    );
    check(&["status", "r"], Some(&unreachable), 69, "nodes");
}

#[test]
fn help_lists_the_exit_statuses() {
    let out = run(bare().arg("--help"), Duration::from_secs(5));
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for s in ["64", "69", "70", "73", "75", "126/127"] {
        assert!(help.contains(s), "--help lists status {s}");
    }
}

#[test]
fn passwords_never_appear_even_in_trace_logs() {
    let mut cmd = bare();
    cmd.env(
        "REDLEAD_NODES",
        format!("redis://admin:{SECRET}@127.0.0.1:1,redis://:{SECRET}@127.0.0.1:2"),
    );
    let out = run(
        cmd.args(["-vvv", "lock", "r", "--", "true"]),
        Duration::from_secs(10),
    );
    let stderr = stderr_of(&out);
    assert_eq!(out.status.code(), Some(69));
    assert!(stderr.lines().count() > 1, "trace logs were written");
    assert!(!stderr.contains(SECRET), "password printed: {stderr}");
}
