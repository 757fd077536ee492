//! The node list, the client built on it, and keeping passwords out of
//! every line redlead prints.

use std::path::Path;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use redlead::{Config, NodeOutcome, Redlock, Tls};
use tokio::time::Instant;

use crate::args::Global;
use crate::exit::{Failure, UNAVAILABLE};

/// Passwords (and user:password pairs) seen in node URLs; every line redlead
/// prints, its logs included, has them replaced by `***`.
fn secrets() -> &'static Mutex<Vec<String>> {
    static SECRETS: OnceLock<Mutex<Vec<String>>> = OnceLock::new();
    SECRETS.get_or_init(|| Mutex::new(Vec::new()))
}

/// Remembers the credentials of a URL so that [`scrub`] hides them: its
/// user info, and the values of `*password*=` query parameters
/// (`redis+sentinel://...?sentinel_password=`).
fn remember_credentials(url: &str) {
    let Some((_, rest)) = url.split_once("://") else {
        return;
    };
    let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
    let mut s = secrets().lock().unwrap_or_else(|p| p.into_inner());
    for (name, value) in query.split('&').filter_map(|p| p.split_once('=')) {
        if name.to_ascii_lowercase().contains("password") {
            s.push(value.to_string());
        }
    }
    if let Some(at) = rest.rfind('@') {
        let userinfo = &rest[..at];
        // Longest first (sorted below), so that "user:pass" goes before "pass".
        s.push(userinfo.to_string());
        if let Some((_, password)) = userinfo.split_once(':') {
            s.push(password.to_string());
        }
    }
    s.retain(|x| x.len() >= 3);
    s.sort_by_key(|x| std::cmp::Reverse(x.len()));
    s.dedup();
}

/// The text with every remembered credential replaced by `***`.
pub fn scrub(text: &str) -> String {
    let s = secrets().lock().unwrap_or_else(|p| p.into_inner());
    let mut out = text.to_string();
    for secret in s.iter() {
        if out.contains(secret.as_str()) {
            out = out.replace(secret.as_str(), "***");
        }
    }
    out
}

/// The URL with its credentials replaced by `***` (the library's rule).
pub use redlead::redact_url as redact;

/// The node URLs from `--node` (repeatable) or `REDLEAD_NODES`, each value
/// possibly a comma-separated list (see [`split_node_list`]).
pub fn urls(global: &Global) -> Result<Vec<String>, Failure> {
    let urls: Vec<String> = global
        .nodes
        .iter()
        .flat_map(|v| split_node_list(v))
        .collect();
    for u in &urls {
        remember_credentials(u);
    }
    if urls.is_empty() {
        return Err(Failure::usage(
            "no nodes: give --node URL (repeatable) or REDLEAD_NODES=redis://host:port,...",
        ));
    }
    Ok(urls)
}

/// The client's configuration from the global flags (the library checks
/// the values, the PEM files included).
pub fn config(global: &Global) -> Result<Config, Failure> {
    let mut config = Config::default().with_node_timeout(global.node_timeout);
    let read = |flag: &str, path: &Path| {
        std::fs::read(path)
            .map_err(|e| Failure::usage(format!("{flag} {}: cannot read: {e}", path.display())))
    };
    let mut tls = match &global.tls_ca {
        Some(ca) => Some(Tls::with_root_ca(read("--tls-ca", ca)?)),
        None => None,
    };
    if let (Some(cert), Some(key)) = (&global.tls_cert, &global.tls_key) {
        tls = Some(
            tls.unwrap_or_default()
                .with_client_cert(read("--tls-cert", cert)?, read("--tls-key", key)?),
        );
    }
    if let Some(tls) = tls {
        config = config.with_tls(tls);
    }
    Ok(config)
}

/// `url,url,...` as URLs. A comma starts a new URL only when what follows
/// it has a scheme (`redis://`, `rediss+cluster://`, ...): the host lists of
/// `redis+cluster://h1:p1,h2:p2` and `redis+sentinel://s1,s2/name` keep their
/// commas. Blank entries are dropped.
pub fn split_node_list(list: &str) -> Vec<String> {
    let mut urls: Vec<String> = Vec::new();
    for piece in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match urls.last_mut() {
            Some(last) if !piece.contains("://") => {
                last.push(',');
                last.push_str(piece);
            }
            _ => urls.push(piece.to_string()),
        }
    }
    urls
}

/// A client over the nodes of the command line. Nothing is dialled yet.
pub fn client(global: &Global) -> Result<Redlock, Failure> {
    let urls = urls(global)?;
    Ok(Redlock::new(&urls, config(global)?)?)
}

/// Waits until a quorum of the nodes answers PING, for at most about
/// `connect_timeout` x 3: a fresh client connects on first use, so one PING
/// that times out says little. Fails with status 69 and what each node said.
pub async fn require_quorum(redlock: &Redlock) -> Result<(), Failure> {
    let q = redlock.quorum();
    let give_up = Instant::now() + redlock.config().connect_timeout * 3;
    loop {
        let outcomes = redlock.ping().await;
        let ok = outcomes.count(|o| *o == NodeOutcome::Ok);
        if ok >= q.size() {
            tracing::debug!(%outcomes, "nodes reachable");
            return Ok(());
        }
        if Instant::now() >= give_up {
            return Err(Failure::new(
                UNAVAILABLE,
                format!(
                    "nodes unreachable: {ok} of {} answered, a quorum needs {} [{outcomes}]",
                    q.nodes(),
                    q.size()
                ),
            ));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A release returns once a quorum of nodes answered; the other nodes'
/// commands finish in the background, within a node timeout each. The
/// process is about to exit (which would drop them, leaving the key on a
/// minority of nodes until its ttl), so wait until they settled (bounded).
pub async fn let_releases_land(client: &redlead::Redlock, global: &Global) {
    if !client.settled(global.node_timeout * 4).await {
        tracing::debug!("some node commands had not settled at exit");
    }
}

/// `HOSTNAME:PID`, the default owner label and candidate id.
pub fn default_owner() -> String {
    let mut buf = [0u8; 256];
    // Safety: the buffer is valid for its length; gethostname NUL-terminates
    // on success when the name fits, and we look for the NUL ourselves.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    let host = if rc == 0 {
        let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
        String::from_utf8_lossy(&buf[..end]).into_owned()
    } else {
        "localhost".to_string()
    };
    format!("{host}:{}", std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_scrubbed_and_redacted() {
        remember_credentials("redis://admin:s3cr3t-pw@10.0.0.1:6379/0");
        assert_eq!(
            scrub("cannot connect to redis://admin:s3cr3t-pw@10.0.0.1:6379/0"),
            "cannot connect to redis://***@10.0.0.1:6379/0"
        );
        assert_eq!(scrub("password s3cr3t-pw refused"), "password *** refused");
        assert_eq!(
            redact("rediss://u:p@ss@h:1"),
            "rediss://***@h:1",
            "a password may contain @"
        );
        assert_eq!(redact("redis://h:1"), "redis://h:1");
        remember_credentials("redis+sentinel://s:1/m?sentinel_password=s3nt1nel-pw&x=1");
        assert_eq!(scrub("auth s3nt1nel-pw failed"), "auth *** failed");
    }

    #[test]
    fn node_lists_keep_the_commas_of_cluster_and_sentinel_host_lists() {
        assert_eq!(
            split_node_list("redis://a:1, redis+cluster://b:1,b:2,b:3,redis+sentinel://c:1,c:2/m,"),
            [
                "redis://a:1",
                "redis+cluster://b:1,b:2,b:3",
                "redis+sentinel://c:1,c:2/m"
            ]
        );
        assert_eq!(split_node_list(" , "), Vec::<String>::new());
        // A list that starts without a scheme stays one (bad) URL, which
        // the library then refuses by name.
        assert_eq!(split_node_list("h:1,redis://a:1"), ["h:1", "redis://a:1"]);
    }
}
