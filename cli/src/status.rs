//! `redlead status RESOURCE...`: who holds what, per node and by quorum.
//!
//! The per-node reads go over plain connections of our own (GET, PTTL and
//! ZSCORE in one pipeline), not through the library, which only exposes the
//! quorum's view (`Redlock::holder_value`). Both are shown: a node that
//! disagrees with the quorum is what an operator looks for. A Redis Cluster
//! or Sentinel node has no per-node row of its own (which server holds its
//! keys is the library's business): its row says so, and the quorum view,
//! read through the library, covers it.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::AsyncConnectionConfig;
use redlead::{owner_of, Redlock};
use serde::Serialize;

use crate::args::{Global, StatusArgs};
use crate::child::Signals;
use crate::exit::{Failure, UNAVAILABLE};
use crate::nodes;

#[derive(Debug, Serialize)]
struct Report {
    nodes: usize,
    quorum: usize,
    resources: Vec<ResourceReport>,
}

#[derive(Debug, Serialize)]
struct ResourceReport {
    resource: String,
    key: String,
    fence_key: String,
    /// The value a quorum of nodes holds, if any.
    holder: Option<Holder>,
    /// Set when fewer than a quorum answered (no quorum view then).
    quorum_error: Option<String>,
    nodes: Vec<NodeReport>,
}

#[derive(Debug, Serialize)]
struct Holder {
    owner: Option<String>,
    value: String,
}

#[derive(Debug, Serialize)]
struct NodeReport {
    node: String,
    ok: bool,
    /// The lock key's value on this node (`<token>:<owner>`).
    value: Option<String>,
    owner: Option<String>,
    /// PTTL of the lock key in ms (None: no key).
    ttl_ms: Option<i64>,
    /// The fencing counter (last token issued through this node).
    fence: Option<u64>,
    error: Option<String>,
}

/// Why a cluster or sentinel node has no per-node row.
const NOT_READ_DIRECTLY: &str =
    "not read directly (a cluster or sentinel node; see the quorum view)";

/// One node, read over a connection of our own.
struct Reader {
    name: String,
    /// None for a cluster or sentinel node.
    client: Option<redis::Client>,
    conn: Option<MultiplexedConnection>,
    timeout: Duration,
    connect_timeout: Duration,
}

impl Reader {
    async fn read(&mut self, key: &str, fence_key: &str) -> NodeReport {
        let mut report = NodeReport {
            node: self.name.clone(),
            ok: false,
            value: None,
            owner: None,
            ttl_ms: None,
            fence: None,
            error: None,
        };
        match self.query(key, fence_key).await {
            Ok((value, pttl, fence)) => {
                report.ok = true;
                report.owner = value.as_deref().and_then(owner_of).map(str::to_string);
                report.value = value;
                report.ttl_ms = (pttl >= 0).then_some(pttl);
                report.fence = fence.and_then(|f| f.parse::<f64>().ok()).map(|f| f as u64);
            }
            Err(e) => {
                self.conn = None;
                report.error = Some(nodes::scrub(&e));
            }
        }
        report
    }

    async fn query(
        &mut self,
        key: &str,
        fence_key: &str,
    ) -> Result<(Option<String>, i64, Option<String>), String> {
        let Some(client) = &self.client else {
            return Err(NOT_READ_DIRECTLY.to_string());
        };
        if self.conn.is_none() {
            let config = AsyncConnectionConfig::new()
                .set_connection_timeout(Some(self.connect_timeout))
                .set_response_timeout(Some(self.timeout));
            let conn = tokio::time::timeout(
                self.connect_timeout,
                client.get_multiplexed_async_connection_with_config(&config),
            )
            .await
            .map_err(|_| "timeout".to_string())?
            .map_err(|e| e.to_string())?;
            self.conn = Some(conn);
        }
        let conn = self.conn.as_mut().expect("just set");
        let mut pipe = redis::pipe();
        pipe.cmd("GET")
            .arg(key)
            .cmd("PTTL")
            .arg(key)
            .cmd("ZSCORE")
            .arg(fence_key)
            .arg("counter");
        tokio::time::timeout(self.timeout, pipe.query_async(conn))
            .await
            .map_err(|_| "timeout".to_string())?
            .map_err(|e| e.to_string())
    }
}

pub async fn run(global: &Global, args: StatusArgs) -> Result<u8, Failure> {
    let urls = nodes::urls(global)?;
    let redlock = Redlock::new(&urls, nodes::config(global)?)?;
    let tls = redlock.config().tls.clone();
    let names = redlock.node_names();
    let mut readers = urls
        .iter()
        .zip(names)
        .map(|(url, name)| {
            let scheme = url.split_once("://").map_or("", |(s, _)| s);
            let direct = !scheme.contains("+cluster") && !scheme.contains("+sentinel");
            let client = match &tls {
                _ if !direct => Ok(None),
                // The library's TLS settings, for our own connections too.
                Some(t) if url.starts_with("rediss://") => redis::Client::build_with_tls(
                    url.as_str(),
                    redis::TlsCertificates {
                        client_tls: t.client_cert_pem.clone().zip(t.client_key_pem.clone()).map(
                            |(client_cert, client_key)| redis::ClientTlsConfig {
                                client_cert,
                                client_key,
                            },
                        ),
                        root_cert: t.root_ca_pem.clone(),
                    },
                )
                .map(Some),
                _ => redis::Client::open(url.as_str()).map(Some),
            }
            .map_err(|e| Failure::usage(format!("bad node URL {}: {e}", nodes::redact(url))))?;
            Ok(Reader {
                name,
                client,
                conn: None,
                // Reading is not on any lock's critical path: be patient.
                timeout: global.node_timeout.max(Duration::from_millis(500)),
                connect_timeout: redlock.config().connect_timeout,
            })
        })
        .collect::<Result<Vec<_>, Failure>>()?;
    let mut signals = if args.watch.is_some() {
        Some(Signals::install()?)
    } else {
        None
    };
    let terminal = std::io::stdout().is_terminal();
    loop {
        let report = gather(&redlock, &mut readers, &args.resources).await?;
        let mut out = std::io::stdout().lock();
        let printed = if args.json {
            serde_json::to_writer(&mut out, &report)
                .map_err(|e| e.to_string())
                .and_then(|_| writeln!(out).map_err(|e| e.to_string()))
        } else {
            if args.watch.is_some() && terminal {
                // Clear the screen and go home, as watch(1) does.
                let _ = write!(out, "\x1b[2J\x1b[H");
            }
            write!(out, "{}", table(&report)).map_err(|e| e.to_string())
        };
        let _ = out.flush();
        drop(out);
        if printed.is_err() {
            // stdout closed (a pipe into head): nothing more to say.
            return Ok(0);
        }
        let answered = report.resources.iter().all(|r| r.quorum_error.is_none());
        let Some(interval) = args.watch else {
            return if answered {
                Ok(0)
            } else {
                Err(Failure::new(
                    UNAVAILABLE,
                    format!(
                        "fewer than {} of {} nodes answered",
                        report.quorum, report.nodes
                    ),
                ))
            };
        };
        let signals = signals.as_mut().expect("installed with --watch");
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = signals.recv() => return Ok(0),
        }
    }
}

async fn gather(
    redlock: &Redlock,
    readers: &mut [Reader],
    resources: &[String],
) -> Result<Report, Failure> {
    let key_format = &redlock.config().key_format;
    let mut out = Vec::new();
    for resource in resources {
        let key = redlock.lock_key(resource);
        let fence_key = key_format.fence_key(resource);
        let reads = readers.iter_mut().map(|r| r.read(&key, &fence_key));
        let (nodes, quorum_view) = tokio::join!(
            futures::future::join_all(reads),
            redlock.holder_value(resource)
        );
        let (holder, quorum_error) = match quorum_view {
            Ok(v) => (
                v.map(|value| Holder {
                    owner: owner_of(&value).map(str::to_string),
                    value,
                }),
                None,
            ),
            Err(e) if e.is_invalid_argument() => return Err(e.into()),
            Err(e) => (None, Some(nodes::scrub(&e.to_string()))),
        };
        out.push(ResourceReport {
            resource: resource.clone(),
            key,
            fence_key,
            holder,
            quorum_error,
            nodes,
        });
    }
    let q = redlock.quorum();
    Ok(Report {
        nodes: q.nodes(),
        quorum: q.size(),
        resources: out,
    })
}

/// The human-readable form.
fn table(report: &Report) -> String {
    let mut s = String::new();
    for r in &report.resources {
        let view = match (&r.holder, &r.quorum_error) {
            (_, Some(e)) => format!("unknown: {e}"),
            (None, None) => "free (no value held by a quorum)".to_string(),
            (Some(h), None) => format!(
                "held by {} (token {}…)",
                h.owner.as_deref().unwrap_or("(no owner label)"),
                &h.value[..h.value.len().min(8)]
            ),
        };
        s.push_str(&format!(
            "{}  key {}  quorum {} of {}\n  quorum view: {view}\n",
            r.resource, r.key, report.quorum, report.nodes
        ));
        s.push_str(&format!(
            "  {:<22} {:<24} {:>10} {:>8}\n",
            "NODE", "HOLDER", "TTL", "FENCE"
        ));
        for n in &r.nodes {
            if let Some(e) = &n.error {
                s.push_str(&format!("  {:<22} unreachable: {e}\n", n.node));
                continue;
            }
            let holder = match (&n.value, &n.owner) {
                (None, _) => "-".to_string(),
                (Some(_), Some(o)) => o.clone(),
                (Some(v), None) => format!("{}…", &v[..v.len().min(8)]),
            };
            let ttl = n
                .ttl_ms
                .map(|ms| format!("{:.3}s", ms as f64 / 1000.0))
                .unwrap_or_else(|| "-".into());
            let fence = n.fence.map(|f| f.to_string()).unwrap_or_else(|| "-".into());
            s.push_str(&format!(
                "  {:<22} {:<24} {:>10} {:>8}\n",
                n.node, holder, ttl, fence
            ));
        }
    }
    s
}
