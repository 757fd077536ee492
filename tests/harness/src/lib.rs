//! Real `redis-server` processes for tests, benches and the demo.
//!
//! Each node listens on a free loopback port chosen by binding port 0, keeps its
//! data in its own temporary directory (AOF with `appendfsync always`, so a
//! restart keeps what the node acknowledged), and is stopped by its pid. Faults
//! are real: SIGKILL, SIGSTOP/SIGCONT and restart on the same port; network
//! faults per link come from a toxiproxy server ([`toxiproxy`]).

pub mod fake_server;
pub mod floor;
pub mod redis_cluster;
pub mod replication;
pub mod sentinel;
pub mod toxiproxy;
pub use fake_server::{Answer, FakeServer};
pub use redis_cluster::RedisCluster;
pub use sentinel::SentinelGroup;
pub use toxiproxy::{Direction, ProxiedCluster, Proxy, Toxiproxy};

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A test CA and a server certificate for 127.0.0.1 it signed, made with
/// the `openssl` command line.
pub struct TlsFiles {
    dir: tempfile::TempDir,
    /// The CA certificate (PEM) that clients should trust.
    pub ca_pem: Vec<u8>,
}

impl TlsFiles {
    pub fn generate() -> TlsFiles {
        let dir = tempfile::Builder::new()
            .prefix("redlead-tls-")
            .tempdir()
            .expect("tempdir");
        let run = |args: &[&str]| {
            let out = Command::new("openssl")
                .args(args)
                .current_dir(dir.path())
                .output()
                .unwrap_or_else(|e| {
                    panic!("cannot run openssl ({e}); install it (apt-get install openssl)")
                });
            assert!(
                out.status.success(),
                "openssl {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        std::fs::write(
            dir.path().join("ext.cnf"),
            "subjectAltName=IP:127.0.0.1,DNS:localhost\n",
        )
        .unwrap();
        run(&[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=redlead test CA",
        ]);
        run(&[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=127.0.0.1",
        ]);
        run(&[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.pem",
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
        ]);
        let ca_pem = std::fs::read(dir.path().join("ca.pem")).unwrap();
        TlsFiles { dir, ca_pem }
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).to_str().unwrap().to_string()
    }
}

/// One redis-server process that this harness started.
pub struct Node {
    port: u16,
    /// With TLS: the TLS port and the server's files (the plain port stays
    /// open for the harness's own commands).
    tls: Option<(u16, String, String, String)>,
    durable: bool,
    /// Given first on the command line: a config file (which must come
    /// first) and options such as `--sentinel` or `--cluster-enabled yes`.
    leading_args: Vec<String>,
    dir: tempfile::TempDir,
    child: Option<Child>,
    frozen: bool,
}

fn free_port() -> u16 {
    // Binding port 0 asks the kernel for a free port; the tiny window between
    // closing it and redis binding it is retried by `Node::start`.
    let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().unwrap().port()
}

fn redis_server_binary() -> PathBuf {
    std::env::var_os("REDIS_SERVER")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("redis-server"))
}

impl Node {
    /// Starts a node on a free port; panics with a clear message when
    /// `redis-server` is not installed.
    pub fn start() -> Node {
        Node::start_with(true)
    }

    /// A node without persistence (no AOF, no snapshots), as most benchmarks
    /// of Redis locks run them: every write is acknowledged without an fsync.
    /// A restart loses its data.
    pub fn start_in_memory() -> Node {
        Node::start_with(false)
    }

    /// A node that also listens with TLS (certificate from `files`) on a
    /// second port; `tls_url()` names it.
    pub fn start_tls(files: &TlsFiles) -> Node {
        let tls = || {
            Some((
                free_port(),
                files.path("server.pem"),
                files.path("server.key"),
                files.path("ca.pem"),
            ))
        };
        Node::start_inner(false, tls, |_, _| vec![])
    }

    fn start_with(durable: bool) -> Node {
        Node::start_inner(durable, || None, |_, _| vec![])
    }

    /// A node without persistence started with `args(dir, port)` before the
    /// harness's own options: for a Redis Cluster member, a replica, a
    /// sentinel (whose config file, written into `dir`, must come first).
    pub fn start_with_args(args: impl Fn(&Path, u16) -> Vec<String>) -> Node {
        Node::start_inner(false, || None, args)
    }

    fn start_inner(
        durable: bool,
        tls: impl Fn() -> Option<(u16, String, String, String)>,
        leading_args: impl Fn(&Path, u16) -> Vec<String>,
    ) -> Node {
        for _ in 0..20 {
            let port = free_port();
            let dir = tempfile::Builder::new()
                .prefix("redlead-node-")
                .tempdir()
                .expect("tempdir");
            let mut node = Node {
                port,
                tls: tls(),
                durable,
                leading_args: leading_args(dir.path(), port),
                dir,
                child: None,
                frozen: false,
            };
            if node.spawn().is_ok() {
                return node;
            }
        }
        panic!("could not start redis-server on a free port after 20 tries");
    }

    fn spawn(&mut self) -> Result<(), String> {
        let mut cmd = Command::new(redis_server_binary());
        // If the test process dies without dropping its nodes (killed, or a
        // bench stopped with ^C), its nodes die with it instead of lingering.
        // Safety: prctl is async-signal-safe; nothing else runs in the child.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        cmd.args(&self.leading_args);
        if let Some((tls_port, cert, key, ca)) = &self.tls {
            cmd.args(["--tls-port", &tls_port.to_string()])
                .args([
                    "--tls-cert-file",
                    cert,
                    "--tls-key-file",
                    key,
                    "--tls-ca-cert-file",
                    ca,
                ])
                .args(["--tls-auth-clients", "no"]);
        }
        let child = cmd
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1"])
            .args(["--dir", self.dir.path().to_str().unwrap()])
            .args(if self.durable {
                ["--appendonly", "yes", "--appendfsync", "always"]
            } else {
                ["--appendonly", "no", "--appendfsync", "no"]
            })
            .args(["--save", ""])
            .args(["--daemonize", "no", "--loglevel", "warning"])
            .args(["--logfile", "redis.log"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot run redis-server ({e}); install it (apt-get install redis-server) or set REDIS_SERVER")
            });
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if self.ping() {
                return Ok(());
            }
            if let Some(Ok(Some(_))) = self.child.as_mut().map(|c| c.try_wait()) {
                self.child = None;
                return Err(format!(
                    "redis-server exited at start on port {}",
                    self.port
                ));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        self.kill();
        Err(format!("redis-server did not answer on port {}", self.port))
    }

    /// `redis://127.0.0.1:<port>`
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// `rediss://127.0.0.1:<tls port>` for a node started with TLS.
    pub fn tls_url(&self) -> Option<String> {
        self.tls
            .as_ref()
            .map(|(p, ..)| format!("rediss://127.0.0.1:{p}"))
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// True when the node answers PING within 200 ms.
    pub fn ping(&self) -> bool {
        matches!(self.command(&["PING"]).as_deref(), Some("+PONG"))
    }

    /// Sends one command over a fresh connection and returns the first reply
    /// line (for bulk strings, the payload), or None on any failure.
    pub fn command(&self, args: &[&str]) -> Option<String> {
        let addr = format!("127.0.0.1:{}", self.port);
        let mut s =
            TcpStream::connect_timeout(&addr.parse().unwrap(), Duration::from_millis(200)).ok()?;
        s.set_read_timeout(Some(Duration::from_millis(500))).ok()?;
        let mut req = format!("*{}\r\n", args.len());
        for a in args {
            req.push_str(&format!("${}\r\n{}\r\n", a.len(), a));
        }
        s.write_all(req.as_bytes()).ok()?;
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            let n = s.read(&mut chunk).ok()?;
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&chunk[..n]);
            if reply_complete(&buf) {
                break;
            }
        }
        let text = String::from_utf8_lossy(&buf).to_string();
        if let Some(rest) = text.strip_prefix('$') {
            // Bulk string: "$len\r\npayload\r\n" or "$-1\r\n" for nil.
            let (len, payload) = rest.split_once("\r\n")?;
            if len == "-1" {
                return Some("(nil)".into());
            }
            return Some(payload.trim_end_matches("\r\n").to_string());
        }
        Some(text.trim_end().to_string())
    }

    /// Value of a key, None when absent or the node does not answer.
    pub fn get(&self, key: &str) -> Option<String> {
        self.command(&["GET", key]).filter(|v| v != "(nil)")
    }

    /// Number of keys on this node (DBSIZE).
    pub fn dbsize(&self) -> Option<u64> {
        self.command(&["DBSIZE"])?
            .trim_start_matches(':')
            .parse()
            .ok()
    }

    /// Keys matching a pattern (KEYS; test-only).
    pub fn keys(&self, pattern: &str) -> Vec<String> {
        let Some(raw) = self.command(&["KEYS", pattern]) else {
            return vec![];
        };
        raw.lines()
            .filter(|l| !l.starts_with('*') && !l.starts_with('$'))
            .map(str::to_string)
            .collect()
    }

    /// SIGKILL: the node dies without a chance to answer or flush.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            if self.frozen {
                unsafe { libc::kill(c.id() as i32, libc::SIGCONT) };
                self.frozen = false;
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGSTOP: the node keeps its connections open but answers nothing,
    /// like a node in a long GC pause or a partitioned network.
    pub fn freeze(&mut self) {
        if let Some(c) = &self.child {
            unsafe { libc::kill(c.id() as i32, libc::SIGSTOP) };
            self.frozen = true;
        }
    }

    /// SIGCONT after `freeze`.
    pub fn thaw(&mut self) {
        if let Some(c) = &self.child {
            unsafe { libc::kill(c.id() as i32, libc::SIGCONT) };
            self.frozen = false;
        }
    }

    pub fn is_frozen(&self) -> bool {
        self.frozen
    }

    /// Starts a killed node again on the same port with the same data dir
    /// (AOF), so it comes back with what it had acknowledged.
    pub fn restart(&mut self) {
        self.kill();
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            match self.spawn() {
                Ok(()) => return,
                Err(e) if Instant::now() > deadline => panic!("restart failed: {e}"),
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }
}

fn reply_complete(buf: &[u8]) -> bool {
    // Good enough for the replies the harness reads: simple strings, integers,
    // errors, one bulk string, or a flat array of bulk strings.
    fn line_end(b: &[u8], from: usize) -> Option<usize> {
        b[from..]
            .windows(2)
            .position(|w| w == b"\r\n")
            .map(|p| from + p)
    }
    fn bulk_end(b: &[u8], from: usize) -> Option<usize> {
        let e = line_end(b, from)?;
        let len: i64 = std::str::from_utf8(&b[from + 1..e]).ok()?.parse().ok()?;
        if len < 0 {
            return Some(e + 2);
        }
        let end = e + 2 + len as usize + 2;
        (b.len() >= end).then_some(end)
    }
    if buf.is_empty() {
        return false;
    }
    match buf[0] {
        b'$' => bulk_end(buf, 0).is_some(),
        b'*' => {
            let Some(e) = line_end(buf, 0) else {
                return false;
            };
            let Ok(n) = std::str::from_utf8(&buf[1..e])
                .unwrap_or("x")
                .parse::<i64>()
            else {
                return false;
            };
            let mut pos = e + 2;
            for _ in 0..n.max(0) {
                if pos >= buf.len() {
                    return false;
                }
                match bulk_end(buf, pos) {
                    Some(p) => pos = p,
                    None => return false,
                }
            }
            true
        }
        _ => line_end(buf, 0).is_some(),
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

/// N nodes started together.
pub struct Cluster {
    pub nodes: Vec<Node>,
}

impl Cluster {
    pub fn start(n: usize) -> Cluster {
        Cluster {
            nodes: (0..n).map(|_| Node::start()).collect(),
        }
    }

    /// N nodes without persistence (see `Node::start_in_memory`).
    pub fn start_in_memory(n: usize) -> Cluster {
        Cluster {
            nodes: (0..n).map(|_| Node::start_in_memory()).collect(),
        }
    }

    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(Node::url).collect()
    }

    /// How many nodes hold `key` with exactly `value`.
    pub fn count_value(&self, key: &str, value: &str) -> usize {
        self.nodes
            .iter()
            .filter(|n| n.get(key).as_deref() == Some(value))
            .count()
    }

    /// How many live nodes hold `key` at all.
    pub fn count_key(&self, key: &str) -> usize {
        self.nodes
            .iter()
            .filter(|n| n.is_running() && !n.is_frozen() && n.get(key).is_some())
            .count()
    }
}
