//! Running the real `redlead` binary against real redis-server nodes.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use redlead_harness::Cluster;

/// `redlead` with the nodes in REDLEAD_NODES and no inherited log settings.
pub fn redlead(cluster: &Cluster) -> Command {
    let mut cmd = bare();
    cmd.env("REDLEAD_NODES", cluster.urls().join(","));
    cmd
}

/// `redlead` without any nodes configured.
pub fn bare() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_redlead"));
    cmd.env_remove("REDLEAD_NODES")
        .env_remove("REDLEAD_LOG")
        .stdin(Stdio::null());
    cmd
}

/// Runs to completion, at most `limit`.
pub fn run(cmd: &mut Command, limit: Duration) -> Output {
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run redlead");
    wait_output(child, limit)
}

pub fn wait_output(child: Child, limit: Duration) -> Output {
    let pid = child.id() as i32;
    let watchdog = std::thread::spawn(move || {
        std::thread::sleep(limit);
        // Safety: plain syscall; at worst the pid is gone already.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    });
    let out = child.wait_with_output().expect("wait for redlead");
    drop(watchdog);
    out
}

/// Waits for a process, at most `limit`; kills it and panics after that.
pub fn wait_status(child: &mut Child, limit: Duration) -> ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("redlead did not exit within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Waits until `path` exists (and is not empty), at most `limit`.
pub fn wait_file(path: &Path, limit: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if std::fs::metadata(path).is_ok_and(|m| m.len() > 0) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

pub fn stderr_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Wall-clock nanoseconds, comparable with `date +%s%N` in a CMD.
pub fn now_ns() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

/// A scratch directory, removed on drop.
pub fn tempdir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("redlead-cli-test-")
        .tempdir()
        .unwrap()
}

/// Sends a signal to a child process.
pub fn signal(child: &Child, sig: i32) {
    // Safety: plain syscall on our own child.
    unsafe { libc::kill(child.id() as i32, sig) };
}

/// Waits until a key holds on at least `n` live nodes.
pub fn wait_key(cluster: &Cluster, key: &str, n: usize, limit: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if cluster.count_key(key) >= n {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}
