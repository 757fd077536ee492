//! A Sentinel-managed master on loopback: one master, one replica and three
//! sentinels (quorum 2), each a process started by this harness. Sentinels
//! rewrite their config file, so each gets a fresh one in its own folder.

use std::time::{Duration, Instant};

use crate::redis_cluster::is_master;
use crate::Node;

/// The name the sentinels know the master by.
pub const MASTER_NAME: &str = "redlead-master";

/// How long the master may be silent before the sentinels call it down;
/// a killed master is replaced about a second or two after that.
pub const DOWN_AFTER_MS: u64 = 1000;

pub struct SentinelGroup {
    /// The data nodes: `data[0]` starts as master, `data[1]` as its replica.
    pub data: Vec<Node>,
    pub sentinels: Vec<Node>,
}

impl SentinelGroup {
    /// Starts the five processes; returns once every sentinel sees the
    /// master with its replica and the two other sentinels.
    pub fn start() -> SentinelGroup {
        let t = Instant::now();
        // Replicas sync at once rather than after 5 s (either may be master).
        let no_delay = || {
            ["--repl-diskless-sync-delay", "0"]
                .map(str::to_string)
                .to_vec()
        };
        let master = Node::start_with_args(|_, _| no_delay());
        let master_port = master.port().to_string();
        let replica = Node::start_with_args(|_, _| {
            let mut args = no_delay();
            args.extend(["--replicaof", "127.0.0.1", &master_port].map(str::to_string));
            args
        });
        let sentinels = (0..3)
            .map(|_| {
                Node::start_with_args(|dir, _| {
                    let conf = dir.join("sentinel.conf");
                    std::fs::write(&conf, "").expect("write sentinel.conf");
                    let down = DOWN_AFTER_MS.to_string();
                    [
                        conf.to_str().unwrap(),
                        "--sentinel",
                        "--sentinel",
                        "monitor",
                        MASTER_NAME,
                        "127.0.0.1",
                        &master_port,
                        "2",
                        "--sentinel",
                        "down-after-milliseconds",
                        MASTER_NAME,
                        &down,
                        "--sentinel",
                        "failover-timeout",
                        MASTER_NAME,
                        "10000",
                    ]
                    .map(str::to_string)
                    .to_vec()
                })
            })
            .collect();
        let group = SentinelGroup {
            data: vec![master, replica],
            sentinels,
        };
        group.wait_settled(Duration::from_secs(20));
        println!(
            "Sentinel group ready in {:?}: master {}, replica {}, sentinels {:?}",
            t.elapsed(),
            group.data[0].port(),
            group.data[1].port(),
            group.sentinels.iter().map(Node::port).collect::<Vec<_>>()
        );
        group
    }

    /// `redis+sentinel://s1,s2,s3/<master name>`.
    pub fn url(&self) -> String {
        let s: Vec<String> = self
            .sentinels
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port()))
            .collect();
        format!("redis+sentinel://{}/{MASTER_NAME}", s.join(","))
    }

    /// The index in `data` of the master every running sentinel names,
    /// once they agree and it says `role:master`.
    pub fn master(&self) -> Option<usize> {
        let named: Vec<Option<u16>> = self
            .sentinels
            .iter()
            .filter(|s| s.is_running())
            .map(named_master_port)
            .collect();
        let port = named.first().copied().flatten()?;
        if named.iter().any(|p| *p != Some(port)) {
            return None;
        }
        let i = self.data.iter().position(|d| d.port() == port)?;
        (self.data[i].is_running() && is_master(&self.data[i])).then_some(i)
    }

    /// Waits until the sentinels agree that `data[index]` is the master.
    pub fn wait_master(&self, index: usize, within: Duration) {
        let t = Instant::now();
        while self.master() != Some(index) {
            assert!(
                t.elapsed() < within,
                "data[{index}] not master within {within:?} (sentinels name {:?})",
                self.sentinels
                    .iter()
                    .map(named_master_port)
                    .collect::<Vec<_>>()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `SENTINEL FAILOVER`: the sentinels promote the replica at once
    /// (without waiting for it to catch up, as after a real failure).
    pub fn fail_over(&self) {
        let reply = self.sentinels[0].command(&["SENTINEL", "FAILOVER", MASTER_NAME]);
        assert_eq!(reply.as_deref(), Some("+OK"), "SENTINEL FAILOVER");
    }

    fn wait_settled(&self, within: Duration) {
        let t = Instant::now();
        loop {
            let linked = self.data[1]
                .command(&["INFO", "replication"])
                .is_some_and(|i| i.contains("master_link_status:up"));
            let seen = self.sentinels.iter().all(|s| {
                s.command(&["INFO", "sentinel"])
                    .is_some_and(|i| i.contains("status=ok") && i.contains("slaves=1,sentinels=3"))
            });
            if linked && seen && self.master() == Some(0) {
                return;
            }
            assert!(
                t.elapsed() < within,
                "sentinels not settled within {within:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// The master's port according to one sentinel.
fn named_master_port(sentinel: &Node) -> Option<u16> {
    let reply = sentinel.command(&["SENTINEL", "GET-MASTER-ADDR-BY-NAME", MASTER_NAME])?;
    reply.lines().last()?.trim().parse().ok()
}
