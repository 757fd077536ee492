//! The fault proxy against a real redis-server, spoken to with raw RESP over
//! a TcpStream (not through redlead), so what is measured is the proxy alone.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use redlead_harness::{Cluster, Direction, Node, ProxiedCluster, Proxy, Toxiproxy};

fn connect(port: u16) -> std::io::Result<TcpStream> {
    let s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(2)))?;
    s.set_nodelay(true)?;
    Ok(s)
}

/// Sends PING and reads until a full line: Ok("+PONG"), or the I/O error;
/// a close before the line is `UnexpectedEof`.
fn ping(s: &mut TcpStream) -> std::io::Result<String> {
    s.write_all(b"*1\r\n$4\r\nPING\r\n")?;
    read_line(s)
}

fn read_line(s: &mut TcpStream) -> std::io::Result<String> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 64];
    while !buf.ends_with(b"\r\n") {
        let n = s.read(&mut chunk)?;
        if n == 0 {
            return Err(std::io::Error::new(
                ErrorKind::UnexpectedEof,
                format!("closed after {:?}", String::from_utf8_lossy(&buf)),
            ));
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Ok(String::from_utf8_lossy(&buf).trim_end().to_string())
}

fn timed_ping(port: u16) -> (std::io::Result<String>, Duration) {
    let t0 = Instant::now();
    let reply = connect(port).and_then(|mut s| ping(&mut s));
    (reply, t0.elapsed())
}

fn resp(args: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len());
    for a in args {
        out.push_str(&format!("${}\r\n{a}\r\n", a.len()));
    }
    out.into_bytes()
}

#[test]
fn ping_through_proxy_takes_the_injected_latency() {
    let node = Node::start_in_memory();
    let tp = Toxiproxy::start();
    let proxy = tp.proxy_for(&node);

    let (reply, clean) = timed_ping(proxy.port());
    assert_eq!(reply.unwrap(), "+PONG");
    proxy.latency(Direction::Upstream, 100, 0);
    let (reply, slow) = timed_ping(proxy.port());
    println!("no toxic: PING {clean:?}; upstream latency 100 ms: PING {slow:?}");
    assert_eq!(reply.unwrap(), "+PONG");
    assert!(slow >= Duration::from_millis(100), "{slow:?}");
    assert!(slow < Duration::from_secs(1), "{slow:?}");
}

#[test]
fn latency_on_one_proxy_leaves_direct_links_and_other_proxies_alone() {
    let cluster = Cluster::start_in_memory(2);
    let proxied = ProxiedCluster::start(&cluster);
    assert_eq!(proxied.urls().len(), 2);
    assert_ne!(proxied.urls(), cluster.urls());
    proxied.proxies[0].latency(Direction::Downstream, 200, 20);

    let (r0, via_slow) = timed_ping(proxied.proxies[0].port());
    let (r1, via_clean) = timed_ping(proxied.proxies[1].port());
    let (r2, direct) = timed_ping(cluster.nodes[0].port());
    println!(
        "downstream latency 200±20 ms on proxy 0: via proxy 0 {via_slow:?}, \
         via proxy 1 {via_clean:?}, node 0 direct {direct:?}"
    );
    for r in [r0, r1, r2] {
        assert_eq!(r.unwrap(), "+PONG");
    }
    assert!(via_slow >= Duration::from_millis(180), "{via_slow:?}");
    assert!(via_clean < Duration::from_millis(100), "{via_clean:?}");
    assert!(direct < Duration::from_millis(100), "{direct:?}");

    proxied.reset();
    let (_, after) = timed_ping(proxied.proxies[0].port());
    println!("after reset: via proxy 0 {after:?}");
    assert!(after < Duration::from_millis(100), "{after:?}");
}

#[test]
fn reset_peer_breaks_the_connection() {
    let node = Node::start_in_memory();
    let tp = Toxiproxy::start();
    let proxy = tp.proxy_for(&node);
    let mut s = connect(proxy.port()).unwrap();
    assert_eq!(ping(&mut s).unwrap(), "+PONG");

    let toxic = proxy.reset_peer(Direction::Upstream, 0);
    let err = ping(&mut s).expect_err("PING after reset_peer");
    println!("reset_peer(upstream, 0) on an open connection: PING failed with {err}");
    let fresh = connect(proxy.port()).and_then(|mut s| ping(&mut s));
    println!("a new connection while the toxic is on: {fresh:?}");
    assert!(fresh.is_err());

    proxy.remove(&toxic);
    let (reply, t) = timed_ping(proxy.port());
    println!("toxic removed: new connection PING {reply:?} in {t:?}");
    assert_eq!(reply.unwrap(), "+PONG");
}

#[test]
fn disable_refuses_new_connections_and_enable_restores() {
    let node = Node::start_in_memory();
    let tp = Toxiproxy::start();
    let proxy = tp.proxy_for(&node);
    let mut open = connect(proxy.port()).unwrap();
    assert_eq!(ping(&mut open).unwrap(), "+PONG");

    proxy.disable();
    let refused = connect(proxy.port()).expect_err("connect to a disabled proxy");
    let old = ping(&mut open);
    println!("disabled: connect -> {refused}; the open connection's PING -> {old:?}");
    assert_eq!(refused.kind(), ErrorKind::ConnectionRefused);
    assert!(old.is_err());

    proxy.enable();
    let (reply, t) = timed_ping(proxy.port());
    println!(
        "enabled again on port {}: PING {reply:?} in {t:?}",
        proxy.port()
    );
    assert_eq!(reply.unwrap(), "+PONG");
}

#[test]
fn timeout_stalls_until_removed() {
    let node = Node::start_in_memory();
    let tp = Toxiproxy::start();
    let proxy = tp.proxy_for(&node);

    let toxic = proxy.timeout(Direction::Upstream, 0);
    let mut s = connect(proxy.port()).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let t0 = Instant::now();
    let stalled = ping(&mut s).expect_err("PING through a stall");
    println!(
        "timeout(upstream, 0): PING got nothing for {:?} ({stalled})",
        t0.elapsed()
    );
    assert!(matches!(
        stalled.kind(),
        ErrorKind::WouldBlock | ErrorKind::TimedOut
    ));

    proxy.remove(&toxic);
    let (reply, t) = timed_ping(proxy.port());
    println!("toxic removed: new connection PING {reply:?} in {t:?}");
    assert_eq!(reply.unwrap(), "+PONG");
}

#[test]
fn limit_data_closes_after_the_limit() {
    let node = Node::start_in_memory();
    let tp = Toxiproxy::start();
    let proxy = tp.proxy_for(&node);
    proxy.limit_data(Direction::Downstream, 3);
    let reply = connect(proxy.port()).and_then(|mut s| ping(&mut s));
    println!("limit_data(downstream, 3 bytes): PING (7-byte reply) -> {reply:?}");
    assert!(reply.is_err());
    proxy.clear();
    assert_eq!(timed_ping(proxy.port()).0.unwrap(), "+PONG");
}

// Question: a command written into a link with a latency toxic is held inside
// toxiproxy; the link then fails. Is the command dropped, or does it still
// reach Redis? Each test writes `SET somekey v` with 300 ms upstream latency,
// injects one fault 50 ms later, and watches the key through a direct
// connection until 650 ms after the write. The answers are asserted, so a
// toxiproxy upgrade that changes them fails here first (summary in the doc
// comment of the harness's toxiproxy.rs).

/// When the key appeared on the node, counted from the write (None if
/// never), and what the client read: `fault` returns the client's connection
/// when it left it open, and the client then reads one line (600 ms at most).
fn held_set_then(
    fault_name: &str,
    fault: impl FnOnce(&Proxy, TcpStream) -> Option<TcpStream>,
) -> (Option<Duration>, Option<std::io::Result<String>>) {
    let node = Node::start_in_memory();
    let tp = Toxiproxy::start();
    let proxy = tp.proxy_for(&node);
    let mut client = connect(proxy.port()).unwrap();
    // The connection to redis is open before the toxic: only the SET is held.
    assert_eq!(ping(&mut client).unwrap(), "+PONG");
    proxy.latency(Direction::Upstream, 300, 0);

    let t0 = Instant::now();
    client.write_all(&resp(&["SET", "somekey", "v"])).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    assert!(
        node.get("somekey").is_none(),
        "SET passed the latency toxic early"
    );
    let fault_at = t0.elapsed();
    let reader = fault(&proxy, client).map(|mut client| {
        std::thread::spawn(move || {
            client
                .set_read_timeout(Some(Duration::from_millis(600)))
                .unwrap();
            (read_line(&mut client), t0.elapsed())
        })
    });

    let mut seen = None;
    while t0.elapsed() < Duration::from_millis(650) {
        if seen.is_none() && node.get("somekey").is_some() {
            seen = Some(t0.elapsed());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let present = node.get("somekey").is_some();
    let client_read = reader.map(|r| r.join().unwrap());
    let client_saw = match &client_read {
        None => "client gone".to_string(),
        Some((Ok(line), at)) => format!("client read {line:?} at {at:?}"),
        Some((Err(e), at)) => format!("client read failed at {at:?}: {e}"),
    };
    println!(
        "SET held by 300 ms upstream latency; {fault_name} at {fault_at:?}: \
         key {} (first seen at {seen:?}; checked directly at {:?}); {client_saw}",
        if present { "PRESENT" } else { "absent" },
        t0.elapsed()
    );
    assert_eq!(present, seen.is_some());
    (seen, client_read.map(|(r, _)| r))
}

#[test]
fn held_command_is_dropped_when_the_proxy_is_disabled() {
    // Disabling closes both sockets of every link; the latency toxic later
    // writes what it held into the closed upstream socket.
    let (seen, client) = held_set_then("disable (enabled:false)", |proxy, client| {
        proxy.disable();
        Some(client)
    });
    assert_eq!(seen, None);
    assert!(client.unwrap().is_err());
}

#[test]
fn held_command_is_flushed_at_once_by_an_upstream_reset_peer() {
    // Adding a toxic interrupts the last toxic of that direction's chain, and
    // the latency toxic passes on what it holds at once ("don't drop any data
    // on the floor"). reset_peer itself acts only on the next chunk it sees,
    // so the reply still comes back.
    let (seen, client) = held_set_then("reset_peer(upstream, 0)", |proxy, client| {
        proxy.reset_peer(Direction::Upstream, 0);
        Some(client)
    });
    let seen = seen.expect("SET dropped");
    assert!(seen < Duration::from_millis(250), "{seen:?}");
    assert_eq!(client.unwrap().unwrap(), "+OK");
}

#[test]
fn held_command_runs_but_its_reply_is_lost_after_a_downstream_reset_peer() {
    // The downstream chain is interrupted, not the upstream one: the SET
    // keeps its latency, runs, and its reply is the chunk that trips the
    // reset, so the client sees the link close instead of "+OK".
    let (seen, client) = held_set_then("reset_peer(downstream, 0)", |proxy, client| {
        proxy.reset_peer(Direction::Downstream, 0);
        Some(client)
    });
    let seen = seen.expect("SET dropped");
    assert!(seen >= Duration::from_millis(290), "{seen:?}");
    assert!(client.unwrap().is_err());
}

#[test]
fn held_command_still_runs_after_the_client_closes() {
    let (seen, _) = held_set_then("client close (FIN)", |_proxy, client| {
        drop(client);
        None
    });
    let seen = seen.expect("SET dropped");
    assert!(seen >= Duration::from_millis(290), "{seen:?}");
}

#[test]
fn held_command_still_runs_after_the_client_aborts() {
    let (seen, _) = held_set_then("client abort (RST, SO_LINGER 0)", |_proxy, client| {
        let linger = libc::linger {
            l_onoff: 1,
            l_linger: 0,
        };
        // Safety: a valid socket and a correctly sized option value.
        let rc = unsafe {
            libc::setsockopt(
                client.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_LINGER,
                &linger as *const libc::linger as *const libc::c_void,
                std::mem::size_of::<libc::linger>() as libc::socklen_t,
            )
        };
        assert_eq!(rc, 0);
        drop(client);
        None
    });
    let seen = seen.expect("SET dropped");
    assert!(seen >= Duration::from_millis(290), "{seen:?}");
}
