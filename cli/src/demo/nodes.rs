//! Local redis-server nodes for the demo: free loopback ports (bind port 0),
//! a temporary directory each, stopped by pid when dropped and killed by the
//! kernel if redlead dies first.
//!
//! The test harness (tests/harness) does the same for tests; it is a
//! dev-only crate, so the demo has this small spawner of its own.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::exit::{Failure, UNAVAILABLE};

pub struct LocalNode {
    port: u16,
    child: Option<Child>,
    frozen: bool,
    _dir: tempfile::TempDir,
}

impl LocalNode {
    /// Starts a node on a free port and waits until it answers PING.
    pub fn start() -> Result<LocalNode, Failure> {
        let mut last = String::new();
        for _ in 0..10 {
            match LocalNode::try_start() {
                Ok(node) => return Ok(node),
                Err(Start::Missing(f)) => return Err(f),
                Err(Start::Retry(why)) => last = why,
            }
        }
        Err(Failure::new(
            UNAVAILABLE,
            format!("could not start redis-server: {last}"),
        ))
    }

    fn try_start() -> Result<LocalNode, Start> {
        // The kernel picks a free port; the short window before redis binds
        // it is covered by retrying.
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| Start::Retry(format!("no free port: {e}")))?
            .port();
        let dir = tempfile::Builder::new()
            .prefix("redlead-demo-")
            .tempdir()
            .map_err(|e| Start::Retry(format!("no temporary directory: {e}")))?;
        let mut cmd = Command::new("redis-server");
        cmd.args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .arg("--dir")
            .arg(dir.path())
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .args(["--loglevel", "warning", "--logfile", "redis.log"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        #[cfg(target_os = "linux")]
        // Safety: prctl is async-signal-safe; nothing else runs in the child.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let child = cmd.spawn().map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                Start::Missing(Failure::new(
                    UNAVAILABLE,
                    "redis-server not found in PATH: install it (apt-get install redis-server, or scripts/ensure-redis.sh)",
                ))
            } else {
                Start::Retry(format!("cannot run redis-server: {e}"))
            }
        })?;
        let mut node = LocalNode {
            port,
            child: Some(child),
            frozen: false,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if node.ping() {
                return Ok(node);
            }
            if let Some(Ok(Some(_))) = node.child.as_mut().map(|c| c.try_wait()) {
                node.child = None;
                return Err(Start::Retry(format!(
                    "redis-server exited at start on port {port}"
                )));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Err(Start::Retry(format!(
            "redis-server did not answer on port {port}"
        )))
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(Child::id).unwrap_or(0)
    }

    fn ping(&self) -> bool {
        let addr = ([127, 0, 0, 1], self.port).into();
        let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_millis(100)) else {
            return false;
        };
        let _ = s.set_read_timeout(Some(Duration::from_millis(200)));
        let mut buf = [0u8; 7];
        s.write_all(b"PING\r\n").is_ok() && s.read_exact(&mut buf).is_ok() && &buf == b"+PONG\r\n"
    }

    /// SIGKILL: the node is gone, as in a crash or a power cut.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            self.signal(&c, libc::SIGCONT);
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGSTOP: connections stay open, nothing answers (a long pause or a
    /// partition).
    pub fn freeze(&mut self) {
        if let Some(c) = &self.child {
            self.signal(c, libc::SIGSTOP);
            self.frozen = true;
        }
    }

    pub fn thaw(&mut self) {
        if let Some(c) = &self.child {
            self.signal(c, libc::SIGCONT);
            self.frozen = false;
        }
    }

    pub fn is_up(&self) -> bool {
        self.child.is_some() && !self.frozen
    }

    fn signal(&self, c: &Child, signal: i32) {
        // Safety: plain syscall on our own, not yet reaped child.
        unsafe { libc::kill(c.id() as i32, signal) };
    }
}

impl Drop for LocalNode {
    fn drop(&mut self) {
        self.kill();
    }
}

enum Start {
    Missing(Failure),
    Retry(String),
}
