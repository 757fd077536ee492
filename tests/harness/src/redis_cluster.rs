//! A real Redis Cluster on loopback: 3 masters and 3 replicas, each a
//! redis-server started by this harness, joined with `redis-cli --cluster
//! create`. (Not to be confused with [`Cluster`](crate::Cluster), which is N
//! independent nodes.)

use std::process::Command;
use std::time::{Duration, Instant};

use crate::Node;

/// How long a member may be unreachable before the others call it failed
/// and its replica takes over: short, so that a killed master is replaced
/// within a few seconds; long enough that a busy test machine does not
/// fail over by itself.
pub const NODE_TIMEOUT_MS: u64 = 1500;

pub struct RedisCluster {
    /// The six members, in start order; which are masters changes with
    /// failovers (see [`RedisCluster::master_of`]).
    pub nodes: Vec<Node>,
}

/// One line of `CLUSTER NODES`.
#[derive(Debug, Clone)]
struct Member {
    id: String,
    port: u16,
    is_master: bool,
    failed: bool,
    master_id: Option<String>,
    slots: Vec<(u16, u16)>,
}

impl RedisCluster {
    /// Starts six members and makes them one cluster (3 masters, one replica
    /// each); returns once every member says `cluster_state:ok`.
    pub fn start() -> RedisCluster {
        let t = Instant::now();
        let nodes: Vec<Node> = (0..6)
            .map(|_| {
                Node::start_with_args(|dir, _| {
                    let conf = dir.join("nodes.conf");
                    [
                        "--cluster-enabled",
                        "yes",
                        "--cluster-config-file",
                        conf.to_str().unwrap(),
                        "--cluster-node-timeout",
                        &NODE_TIMEOUT_MS.to_string(),
                        // Replicas sync at once rather than after 5 s.
                        "--repl-diskless-sync-delay",
                        "0",
                    ]
                    .map(str::to_string)
                    .to_vec()
                })
            })
            .collect();
        let mut create =
            Command::new(std::env::var_os("REDIS_CLI").unwrap_or_else(|| "redis-cli".into()));
        create.args(["--cluster", "create"]);
        for n in &nodes {
            create.arg(format!("127.0.0.1:{}", n.port()));
        }
        let out = create
            .args(["--cluster-replicas", "1", "--cluster-yes"])
            .output()
            .unwrap_or_else(|e| panic!("cannot run redis-cli ({e}); it comes with redis-server"));
        assert!(
            out.status.success(),
            "redis-cli --cluster create: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let cluster = RedisCluster { nodes };
        cluster.wait_ok(Duration::from_secs(20));
        // redis-cli attaches the replicas after the slots are served.
        let t_ok = Instant::now();
        while !cluster.nodes.iter().all(|n| {
            let members: Vec<Member> = n
                .command(&["CLUSTER", "NODES"])
                .unwrap_or_default()
                .lines()
                .filter_map(parse_member)
                .collect();
            members.iter().filter(|m| m.master_id.is_some()).count() == 3
        }) {
            assert!(
                t_ok.elapsed() < Duration::from_secs(20),
                "replicas not attached"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        println!(
            "Redis Cluster of 6 on ports {:?} ready in {:?}",
            cluster.nodes.iter().map(Node::port).collect::<Vec<_>>(),
            t.elapsed()
        );
        cluster
    }

    /// `redis+cluster://` with three members as seeds.
    pub fn url(&self) -> String {
        let seeds: Vec<String> = self.nodes[..3]
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port()))
            .collect();
        format!("redis+cluster://{}", seeds.join(","))
    }

    /// Waits until every running member says `cluster_state:ok` and agrees
    /// on which members are masters.
    pub fn wait_ok(&self, within: Duration) {
        let t = Instant::now();
        loop {
            let live: Vec<&Node> = self.nodes.iter().filter(|n| n.is_running()).collect();
            let ok = live.iter().all(|n| {
                n.command(&["CLUSTER", "INFO"])
                    .is_some_and(|i| i.contains("cluster_state:ok"))
            });
            let views: Vec<Vec<u16>> = live.iter().map(|n| masters_seen_by(n)).collect();
            if ok && views.windows(2).all(|w| w[0] == w[1]) {
                return;
            }
            assert!(
                t.elapsed() < within,
                "cluster not ok within {within:?}: {views:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The hash slot of a key.
    pub fn slot_of(&self, key: &str) -> u16 {
        let reply = self.any_live().command(&["CLUSTER", "KEYSLOT", key]);
        reply
            .as_deref()
            .and_then(|r| r.trim_start_matches(':').parse().ok())
            .unwrap_or_else(|| panic!("CLUSTER KEYSLOT {key}: {reply:?}"))
    }

    /// The index in `nodes` of the master serving `key`'s slot.
    pub fn master_of(&self, key: &str) -> usize {
        let slot = self.slot_of(key);
        let members = self.members();
        let m = members
            .iter()
            .find(|m| {
                m.is_master && !m.failed && m.slots.iter().any(|&(a, b)| a <= slot && slot <= b)
            })
            .unwrap_or_else(|| panic!("no master serves slot {slot}: {members:?}"));
        self.index_of(m.port)
    }

    /// The index in `nodes` of a replica of the master at `master`.
    pub fn replica_of(&self, master: usize) -> usize {
        let members = self.members();
        let port = self.nodes[master].port();
        let id = &members
            .iter()
            .find(|m| m.port == port)
            .expect("master listed")
            .id;
        let r = members
            .iter()
            .find(|m| m.master_id.as_ref() == Some(id) && !m.failed)
            .unwrap_or_else(|| panic!("no replica of {port}: {members:?}"));
        self.index_of(r.port)
    }

    /// `key`'s value on the master of its slot.
    pub fn get(&self, key: &str) -> Option<String> {
        self.nodes[self.master_of(key)].get(key)
    }

    /// `CLUSTER FAILOVER` on a replica (a coordinated handover: the replica
    /// catches up with its master first, no write is lost); returns once it
    /// is master and the cluster agrees.
    pub fn fail_over_to(&self, replica: usize) {
        let reply = self.nodes[replica].command(&["CLUSTER", "FAILOVER"]);
        assert_eq!(reply.as_deref(), Some("+OK"), "CLUSTER FAILOVER");
        self.wait_master(replica, Duration::from_secs(10));
    }

    /// Waits until `member` is a master and the cluster is ok again.
    pub fn wait_master(&self, member: usize, within: Duration) {
        let t = Instant::now();
        while !is_master(&self.nodes[member]) {
            assert!(
                t.elapsed() < within,
                "member {member} not promoted within {within:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        self.wait_ok(
            within
                .saturating_sub(t.elapsed())
                .max(Duration::from_secs(5)),
        );
    }

    fn any_live(&self) -> &Node {
        self.nodes
            .iter()
            .find(|n| n.is_running() && !n.is_frozen())
            .expect("a running member")
    }

    fn members(&self) -> Vec<Member> {
        let text = self
            .any_live()
            .command(&["CLUSTER", "NODES"])
            .expect("CLUSTER NODES");
        text.lines().filter_map(parse_member).collect()
    }

    fn index_of(&self, port: u16) -> usize {
        self.nodes
            .iter()
            .position(|n| n.port() == port)
            .unwrap_or_else(|| panic!("port {port} is not ours"))
    }
}

/// `INFO replication` says `role:master`.
pub(crate) fn is_master(node: &Node) -> bool {
    node.command(&["INFO", "replication"])
        .is_some_and(|i| i.contains("role:master"))
}

fn masters_seen_by(node: &Node) -> Vec<u16> {
    let mut ports: Vec<u16> = node
        .command(&["CLUSTER", "NODES"])
        .unwrap_or_default()
        .lines()
        .filter_map(parse_member)
        .filter(|m| m.is_master && !m.failed && !m.slots.is_empty())
        .map(|m| m.port)
        .collect();
    ports.sort();
    ports
}

/// `<id> <ip:port@cport> <flags> <master id or -> <ping> <pong> <epoch> <link> <slot ranges...>`
fn parse_member(line: &str) -> Option<Member> {
    let f: Vec<&str> = line.split_whitespace().collect();
    if f.len() < 8 {
        return None;
    }
    let port = f[1].split('@').next()?.rsplit(':').next()?.parse().ok()?;
    let flags: Vec<&str> = f[2].split(',').collect();
    let slots = f[8..]
        .iter()
        .filter(|s| !s.starts_with('['))
        .filter_map(|s| match s.split_once('-') {
            Some((a, b)) => Some((a.parse().ok()?, b.parse().ok()?)),
            None => s.parse().ok().map(|a| (a, a)),
        })
        .collect();
    Some(Member {
        id: f[0].to_string(),
        port,
        is_master: flags.contains(&"master"),
        failed: flags.iter().any(|x| *x == "fail" || *x == "fail?"),
        master_id: (f[3] != "-").then(|| f[3].to_string()),
        slots,
    })
}
