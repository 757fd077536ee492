//! Network faults per link, from a real [toxiproxy] server (Shopify, v2.12.0).
//!
//! A [`Toxiproxy`] is one `toxiproxy-server` process on a free loopback port;
//! each [`Proxy`] listens on its own free loopback port and forwards to one
//! redis-server. Toxics (latency with jitter, stalls, resets, data limits) are
//! added per proxy and per direction through toxiproxy's HTTP API, so a test
//! can slow or cut the link between one client and one node while another
//! client still talks to that node directly ([`ProxiedCluster`]).
//!
//! The API is spoken with one HTTP/1.1 request per TCP connection over
//! `std::net` (`Connection: close`), so the harness needs no HTTP or JSON
//! crate. Every API error panics with toxiproxy's answer: this is a test
//! harness, and a fault that was not injected must not pass for one that was.
//!
//! The server gets `PR_SET_PDEATHSIG`, like the redis nodes: it dies with the
//! thread that started it. So start one per test (it answers within some
//! tens of milliseconds) rather than sharing one through a static.
//!
//! # What happens to a command held inside the proxy when the link fails
//!
//! Measured with toxiproxy 2.12.0 by the `held_command_*` tests in
//! `tests/harness/tests/toxiproxy.rs` (which assert these answers): a client
//! writes `SET somekey v` into a link with a 300 ms upstream latency toxic, the
//! link fails 50 ms later, and a direct connection watches the key.
//!
//! | fault at +50 ms                      | the held SET                     | the client sees            |
//! |--------------------------------------|----------------------------------|----------------------------|
//! | (a) [`Proxy::disable`]               | **dropped**, never reaches Redis | EOF at once                |
//! | (b) [`Proxy::reset_peer`] upstream   | delivered **at once** (~51 ms)   | `+OK`; reset on next write |
//! | (b) [`Proxy::reset_peer`] downstream | delivered **later**, at ~300 ms  | EOF at ~300 ms, no `+OK`   |
//! | (c) client closes (FIN, or RST)      | delivered **later**, at ~300 ms  | (gone)                     |
//!
//! Why, from toxiproxy's source: disabling closes both sockets of every link,
//! so what a toxic still holds is written into a closed upstream socket and
//! lost. Adding a toxic to a direction interrupts the last toxic of that
//! direction's chain (removing one interrupts it and the one before it), and
//! an interrupted latency toxic passes on what it holds immediately ("don't
//! drop any data on the floor"): so adding a toxic upstream, or removing the
//! latency toxic, cuts the latency short. `reset_peer` acts only when the next chunk
//! in its direction arrives: it swallows that chunk and closes the link
//! (with a FIN, not an RST, when the toxic was added to a live connection).
//! A client-side close only ends the upstream stream *after* the held bytes,
//! which still go out when their latency expires.
//!
//! So, to test "a command written to a connection the client gave up on still
//! runs later": hold it with upstream latency and then drop the client's
//! connection (the client's own timeout), or add `reset_peer` **downstream**
//! (the command runs, its reply is what trips the reset, the client never
//! sees it). Never add a toxic **upstream** while a command is held: that
//! releases it early. To lose a held command for good, `disable` the proxy.
//!
//! [toxiproxy]: https://github.com/Shopify/toxiproxy

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use crate::{Cluster, Node};

const INSTALL: &str = "go install github.com/Shopify/toxiproxy/v2/cmd/server@v2.12.0";

/// Which way a toxic acts on a link.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Direction {
    /// Client to server: the command.
    Upstream,
    /// Server to client: the reply.
    Downstream,
}

impl Direction {
    fn as_str(self) -> &'static str {
        match self {
            Direction::Upstream => "upstream",
            Direction::Downstream => "downstream",
        }
    }
}

/// One `toxiproxy-server` process that this harness started; killed by pid
/// on drop.
pub struct Toxiproxy {
    api: SocketAddr,
    child: Child,
    next_proxy: AtomicU32,
}

impl Toxiproxy {
    /// Starts the server on a free loopback port and waits until its HTTP API
    /// answers. Panics naming the install command when the binary is missing.
    ///
    /// The binary is `$TOXIPROXY_SERVER`, else `toxiproxy-server` on `PATH`,
    /// else `$(go env GOPATH)/bin/server`, else `~/go/bin/server` (where
    /// `go install` puts it).
    pub fn start() -> Toxiproxy {
        let binary = server_binary();
        for _ in 0..20 {
            let port = free_port();
            let mut cmd = Command::new(&binary);
            // Safety: prctl is async-signal-safe; nothing else runs in the child.
            unsafe {
                cmd.pre_exec(|| {
                    libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                    Ok(())
                });
            }
            let child = cmd
                .args(["-host", "127.0.0.1", "-port", &port.to_string()])
                .env("LOG_LEVEL", "error")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| {
                    panic!(
                        "cannot run toxiproxy server {} ({e}); install it ({INSTALL}) or set TOXIPROXY_SERVER",
                        binary.display()
                    )
                });
            let mut server = Toxiproxy {
                api: SocketAddr::from(([127, 0, 0, 1], port)),
                child,
                next_proxy: AtomicU32::new(0),
            };
            if server.wait_ready() {
                return server;
            }
            // Lost the race for the port, or the server failed: drop kills it.
        }
        panic!(
            "could not start toxiproxy ({}) on a free port after 20 tries",
            binary.display()
        );
    }

    fn wait_ready(&mut self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok((200, _)) = http(self.api, "GET", "/version", None) {
                return true;
            }
            if let Ok(Some(_)) = self.child.try_wait() {
                return false;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        false
    }

    /// `127.0.0.1:<port>` of the HTTP API.
    pub fn api_addr(&self) -> SocketAddr {
        self.api
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// A new proxy on a free loopback port to `127.0.0.1:upstream_port`,
    /// enabled and without toxics.
    pub fn proxy(&self, upstream_port: u16) -> Proxy {
        let name = format!(
            "p{}_to_{upstream_port}",
            self.next_proxy.fetch_add(1, Ordering::Relaxed)
        );
        // Port 0: toxiproxy binds a free port itself (no race) and reports it
        // in "listen"; disable/enable rebinds that same port.
        let body = format!(
            r#"{{"name":"{name}","listen":"127.0.0.1:0","upstream":"127.0.0.1:{upstream_port}","enabled":true}}"#
        );
        let reply = call(self.api, "POST", "/proxies", Some(&body));
        let listen = json_string_field(&reply, "listen")
            .unwrap_or_else(|| panic!("toxiproxy: no \"listen\" in {reply}"));
        let port = listen
            .rsplit_once(':')
            .and_then(|(_, p)| p.parse().ok())
            .unwrap_or_else(|| panic!("toxiproxy: bad listen address {listen:?}"));
        Proxy {
            api: self.api,
            name,
            port,
            upstream_port,
            next_toxic: AtomicU32::new(0),
        }
    }

    /// A proxy in front of `node`.
    pub fn proxy_for(&self, node: &Node) -> Proxy {
        self.proxy(node.port())
    }

    /// Removes every toxic of every proxy and enables every proxy.
    pub fn reset(&self) {
        call(self.api, "POST", "/reset", None);
    }
}

impl Drop for Toxiproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One link: a listening port in toxiproxy that forwards to one upstream
/// port. Valid while its [`Toxiproxy`] lives.
pub struct Proxy {
    api: SocketAddr,
    name: String,
    port: u16,
    upstream_port: u16,
    next_toxic: AtomicU32,
}

impl Proxy {
    /// The port clients connect to.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The port of the server behind the proxy.
    pub fn upstream_port(&self) -> u16 {
        self.upstream_port
    }

    /// `redis://127.0.0.1:<proxy port>`
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// The proxy's name in toxiproxy.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Adds a toxic of any toxiproxy type with integer attributes, on all
    /// connections (toxicity 1); returns its name for [`Proxy::remove`].
    /// Existing connections are affected too, not only new ones; and adding
    /// or removing a toxic releases at once what a latency toxic of the same
    /// direction holds (see the module doc).
    pub fn toxic(&self, kind: &str, direction: Direction, attributes: &[(&str, u64)]) -> String {
        let name = format!(
            "{kind}_{}_{}",
            direction.as_str(),
            self.next_toxic.fetch_add(1, Ordering::Relaxed)
        );
        let attributes: Vec<String> = attributes
            .iter()
            .map(|(k, v)| format!(r#""{k}":{v}"#))
            .collect();
        let body = format!(
            r#"{{"name":"{name}","type":"{kind}","stream":"{}","toxicity":1,"attributes":{{{}}}}}"#,
            direction.as_str(),
            attributes.join(",")
        );
        call(
            self.api,
            "POST",
            &format!("/proxies/{}/toxics", self.name),
            Some(&body),
        );
        name
    }

    /// Delays every chunk of data by `ms` plus or minus up to `jitter_ms`.
    pub fn latency(&self, direction: Direction, ms: u64, jitter_ms: u64) -> String {
        self.toxic(
            "latency",
            direction,
            &[("latency", ms), ("jitter", jitter_ms)],
        )
    }

    /// On the next chunk of data in `direction`, swallows it and, after
    /// `timeout_ms`, closes the connection (RST for connections opened after
    /// the toxic, FIN for those already open). A connection that stays idle
    /// is not touched.
    pub fn reset_peer(&self, direction: Direction, timeout_ms: u64) -> String {
        self.toxic("reset_peer", direction, &[("timeout", timeout_ms)])
    }

    /// Stalls: passes no data, and closes each connection after `ms`; 0 stalls
    /// until the toxic is removed.
    pub fn timeout(&self, direction: Direction, ms: u64) -> String {
        self.toxic("timeout", direction, &[("timeout", ms)])
    }

    /// Closes each connection once `bytes` have passed in `direction`.
    pub fn limit_data(&self, direction: Direction, bytes: u64) -> String {
        self.toxic("limit_data", direction, &[("bytes", bytes)])
    }

    /// Removes one toxic by the name its constructor returned.
    pub fn remove(&self, toxic: &str) {
        call(
            self.api,
            "DELETE",
            &format!("/proxies/{}/toxics/{toxic}", self.name),
            None,
        );
    }

    /// Removes every toxic of this proxy.
    pub fn clear(&self) {
        let reply = call(
            self.api,
            "GET",
            &format!("/proxies/{}/toxics", self.name),
            None,
        );
        for toxic in json_string_fields(&reply, "name") {
            self.remove(&toxic);
        }
    }

    /// Closes the listener and every open connection, losing data that
    /// toxics still hold: new connections are refused until
    /// [`Proxy::enable`].
    pub fn disable(&self) {
        self.set_enabled(false);
    }

    /// Listens again, on the same port.
    pub fn enable(&self) {
        self.set_enabled(true);
    }

    fn set_enabled(&self, enabled: bool) {
        call(
            self.api,
            "PATCH",
            &format!("/proxies/{}", self.name),
            Some(&format!(r#"{{"enabled":{enabled}}}"#)),
        );
    }
}

/// One toxiproxy with one [`Proxy`] per node of a [`Cluster`], in node
/// order: a client built from [`ProxiedCluster::urls`] goes through the
/// proxies, one built from `Cluster::urls` talks to the nodes directly.
/// Nodes restarted on their port stay behind their proxy.
pub struct ProxiedCluster {
    pub proxies: Vec<Proxy>,
    pub toxiproxy: Toxiproxy,
}

impl ProxiedCluster {
    pub fn start(cluster: &Cluster) -> ProxiedCluster {
        let toxiproxy = Toxiproxy::start();
        let proxies = cluster
            .nodes
            .iter()
            .map(|n| toxiproxy.proxy_for(n))
            .collect();
        ProxiedCluster { proxies, toxiproxy }
    }

    /// The proxies' `redis://` URLs, in node order.
    pub fn urls(&self) -> Vec<String> {
        self.proxies.iter().map(Proxy::url).collect()
    }

    /// Removes every toxic and enables every proxy.
    pub fn reset(&self) {
        self.toxiproxy.reset();
    }
}

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().unwrap().port()
}

fn server_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("TOXIPROXY_SERVER") {
        return PathBuf::from(p);
    }
    let on_path = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join("toxiproxy-server"))
            .find(|p| is_executable(p))
    });
    if let Some(p) = on_path {
        return p;
    }
    let gopath = Command::new("go")
        .args(["env", "GOPATH"])
        .stderr(Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .filter(|s| !s.is_empty());
    let home_go = std::env::var_os("HOME").map(|h| Path::new(&h).join("go"));
    // GOPATH may list several directories; `go install` uses the first.
    let candidates = gopath
        .iter()
        .filter_map(|g| std::env::split_paths(g).next())
        .chain(home_go)
        .map(|g| g.join("bin").join("server"));
    // "server" is a generic name: take it only if it says it is toxiproxy.
    for p in candidates {
        if is_executable(&p) && says_toxiproxy(&p) {
            return p;
        }
    }
    panic!(
        "toxiproxy server not found (tried $TOXIPROXY_SERVER, toxiproxy-server on PATH, \
         $(go env GOPATH)/bin/server, ~/go/bin/server); install it: {INSTALL}"
    );
}

fn says_toxiproxy(p: &Path) -> bool {
    Command::new(p)
        .arg("-version")
        .stdin(Stdio::null())
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).contains("toxiproxy"))
        .unwrap_or(false)
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    p.metadata()
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// One API request; panics on any failure or non-2xx status, with the body.
fn call(api: SocketAddr, method: &str, path: &str, body: Option<&str>) -> String {
    match http(api, method, path, body) {
        Ok((status, reply)) if (200..300).contains(&status) => reply,
        Ok((status, reply)) => panic!(
            "toxiproxy {method} {path} {}: HTTP {status}: {reply}",
            body.unwrap_or("")
        ),
        Err(e) => panic!("toxiproxy {method} {path}: {e}"),
    }
}

/// One HTTP/1.1 request on its own connection; returns status and body.
fn http(
    api: SocketAddr,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> std::io::Result<(u16, String)> {
    let timeout = Duration::from_secs(5);
    let mut s = TcpStream::connect_timeout(&api, timeout)?;
    s.set_read_timeout(Some(timeout))?;
    s.set_write_timeout(Some(timeout))?;
    let body = body.unwrap_or("");
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {api}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(request.as_bytes())?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let bad = |what: &str| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("{what}: {}", String::from_utf8_lossy(&raw)),
        )
    };
    let text = String::from_utf8_lossy(&raw);
    let (head, rest) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| bad("no end of headers"))?;
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad("no status"))?;
    let chunked = head.lines().any(|l| {
        let l = l.to_ascii_lowercase();
        l.starts_with("transfer-encoding:") && l.contains("chunked")
    });
    let body = if chunked {
        dechunk(rest).ok_or_else(|| bad("bad chunked body"))?
    } else {
        rest.to_string()
    };
    Ok((status, body))
}

fn dechunk(mut rest: &str) -> Option<String> {
    let mut out = String::new();
    loop {
        let (size, after) = rest.split_once("\r\n")?;
        let size = usize::from_str_radix(size.split(';').next()?.trim(), 16).ok()?;
        if size == 0 {
            return Some(out);
        }
        out.push_str(after.get(..size)?);
        rest = after.get(size + 2..)?;
    }
}

/// The first string value of `"field"` in a JSON text (toxiproxy's replies
/// are flat enough, and names and addresses hold no escapes).
fn json_string_field(json: &str, field: &str) -> Option<String> {
    json_string_fields(json, field).into_iter().next()
}

fn json_string_fields(json: &str, field: &str) -> Vec<String> {
    let key = format!("\"{field}\":\"");
    let mut out = Vec::new();
    let mut rest = json;
    while let Some(i) = rest.find(&key) {
        rest = &rest[i + key.len()..];
        if let Some(end) = rest.find('"') {
            out.push(rest[..end].to_string());
            rest = &rest[end..];
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dechunk_joins_chunks() {
        assert_eq!(
            dechunk("3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n").unwrap(),
            "abcde"
        );
    }

    #[test]
    fn json_fields_are_found_in_order() {
        let j = r#"[{"attributes":{"latency":1},"name":"a","type":"latency"},{"name":"b"}]"#;
        assert_eq!(json_string_fields(j, "name"), ["a", "b"]);
        assert_eq!(json_string_field(j, "type").as_deref(), Some("latency"));
    }
}
