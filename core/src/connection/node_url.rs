//! The URL of one Redlock node, in one of its three forms:
//!
//! - one server: `redis://[user:password@]host:port[/db]`, `rediss://` (TLS),
//!   `redis+unix:///path` — parsed by the redis crate as before;
//! - a Redis Cluster: `redis+cluster://[user:password@]h1:p1,h2:p2[?...]`
//!   (`rediss+cluster://` for TLS) — a seed list; any reachable seed tells
//!   the client the whole topology;
//! - a Sentinel-managed master:
//!   `redis+sentinel://[user:password@]s1:p1,s2:p2/<master name>[/db][?sentinel_username=..&sentinel_password=..]`
//!   (`rediss+sentinel://` for TLS to the sentinels and the master). The
//!   user and password are the master's; the sentinels' own credentials, if
//!   any, go in the query. A sentinel without a port listens on 26379.
//!
//! Each address of a list is handed to the redis crate's own URL parser, so
//! percent-encoded passwords, `?protocol=resp3` and TLS work as they do for a
//! `redis://` URL. Messages about a URL show it through [`redact`].

use redis::{ConnectionInfo, IntoConnectionInfo, RedisConnectionInfo};

/// What a node URL names.
pub(crate) enum NodeUrl {
    /// One server.
    Standalone(ConnectionInfo),
    /// Seeds of one Redis Cluster.
    Cluster(Vec<ConnectionInfo>),
    /// The master a group of sentinels watches.
    Sentinel(SentinelUrl),
}

pub(crate) struct SentinelUrl {
    /// The sentinels, with the sentinels' credentials.
    pub sentinels: Vec<ConnectionInfo>,
    /// The name the sentinels know the master by (`sentinel monitor <name> ...`).
    pub master_name: String,
    /// How to talk to the master once found: credentials, db, protocol.
    pub master: RedisConnectionInfo,
    /// TLS to the sentinels and the master (`rediss+sentinel://`).
    pub tls: bool,
}

impl NodeUrl {
    /// Whether connections to this node use TLS.
    #[cfg(feature = "tls-rustls")]
    pub fn is_tls(&self) -> bool {
        let tls = |i: &ConnectionInfo| matches!(i.addr(), redis::ConnectionAddr::TcpTls { .. });
        match self {
            NodeUrl::Standalone(info) => tls(info),
            NodeUrl::Cluster(seeds) => seeds.iter().any(tls),
            NodeUrl::Sentinel(s) => s.tls,
        }
    }
}

/// The scheme's kind of node, and the scheme each address of its list is
/// parsed with.
enum Scheme {
    Standalone,
    Cluster(&'static str),
    Sentinel(&'static str),
}

fn scheme_of(url: &str) -> (Scheme, &str) {
    let Some((scheme, rest)) = url.split_once("://") else {
        return (Scheme::Standalone, url);
    };
    let kind = match scheme.to_ascii_lowercase().as_str() {
        "redis+cluster" => Scheme::Cluster("redis"),
        "rediss+cluster" => Scheme::Cluster("rediss"),
        "redis+sentinel" => Scheme::Sentinel("redis"),
        "rediss+sentinel" => Scheme::Sentinel("rediss"),
        _ => Scheme::Standalone,
    };
    (kind, rest)
}

/// The port a sentinel listens on unless told otherwise.
const SENTINEL_PORT: u16 = 26379;

impl NodeUrl {
    /// Parses `url`; the error names the problem without the password.
    pub fn parse(url: &str) -> Result<NodeUrl, String> {
        let url = url.trim();
        if url.is_empty() {
            return Err("node URL must not be empty".into());
        }
        let bad = |why: &dyn std::fmt::Display| format!("bad node URL {:?}: {why}", redact(url));
        match scheme_of(url) {
            (Scheme::Standalone, _) => url
                .into_connection_info()
                .map(NodeUrl::Standalone)
                .map_err(|e| bad(&e)),
            (Scheme::Cluster(base), rest) => {
                let parts = Parts::split(rest).map_err(|e| bad(&e))?;
                let seeds = parts
                    .hosts
                    .iter()
                    .map(|host| parse_one(base, parts.userinfo, host, parts.tail))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| bad(&e))?;
                if seeds.iter().any(|s| s.redis_settings().db() != 0) {
                    return Err(bad(&"a Redis Cluster has only database 0"));
                }
                Ok(NodeUrl::Cluster(seeds))
            }
            (Scheme::Sentinel(base), rest) => SentinelUrl::parse(base, rest)
                .map(NodeUrl::Sentinel)
                .map_err(|e| bad(&e)),
        }
    }

    /// The node's name in outcomes and logs: its address(es), never its
    /// password (`host:port`, `redis+cluster://h1:p1,h2:p2`,
    /// `redis+sentinel://s1:p1,s2:p2/name`).
    pub fn name(&self, url: &str) -> String {
        match self {
            NodeUrl::Standalone(info) => info.addr().to_string(),
            NodeUrl::Cluster(_) | NodeUrl::Sentinel(_) => {
                let (scheme, rest) = url.trim().split_once("://").unwrap_or(("", url));
                let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
                let rest = rest.split_once('?').map_or(rest, |(r, _)| r);
                format!("{}://{}", scheme.to_ascii_lowercase(), rest)
            }
        }
    }
}

impl SentinelUrl {
    fn parse(base: &'static str, rest: &str) -> Result<SentinelUrl, String> {
        let parts = Parts::split(rest)?;
        let (path, query) = parts.tail.split_once('?').unwrap_or((parts.tail, ""));
        let mut segments = path.trim_start_matches('/').split('/');
        let master_name = segments.next().unwrap_or("").to_string();
        if master_name.is_empty() {
            return Err(
                "the master's name is missing: redis+sentinel://host:port/<master name>".into(),
            );
        }
        let db = segments.next().unwrap_or("");
        if segments.next().is_some() {
            return Err("the path is /<master name>[/<db>]".into());
        }
        let (mut sentinel_user, mut sentinel_password) = (None, None);
        let mut passed_on = url::form_urlencoded::Serializer::new(String::new());
        for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
            match &*key {
                "sentinel_username" => sentinel_user = Some(value.into_owned()),
                "sentinel_password" => sentinel_password = Some(value.into_owned()),
                _ => {
                    passed_on.append_pair(&key, &value);
                }
            }
        }
        let passed_on = passed_on.finish();
        let master_tail = match (db.is_empty(), passed_on.is_empty()) {
            (true, true) => String::new(),
            (true, false) => format!("/?{passed_on}"),
            (false, true) => format!("/{db}"),
            (false, false) => format!("/{db}?{passed_on}"),
        };
        // The master's settings are read from a URL of the crate's own form
        // (so that its decoding of passwords and parameters applies); its
        // address is a placeholder, the sentinels name the real one.
        let master = parse_one(base, parts.userinfo, "sentinel-names-it", &master_tail)?;
        let mut sentinel_settings = RedisConnectionInfo::default();
        if let Some(user) = sentinel_user {
            sentinel_settings = sentinel_settings.set_username(user);
        }
        if let Some(password) = sentinel_password {
            sentinel_settings = sentinel_settings.set_password(password);
        }
        let sentinels = parts
            .hosts
            .iter()
            .map(|host| {
                let with_port = if has_port(host) {
                    host.to_string()
                } else {
                    format!("{host}:{SENTINEL_PORT}")
                };
                parse_one(base, None, &with_port, "")
                    .map(|info| info.set_redis_settings(sentinel_settings.clone()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(SentinelUrl {
            sentinels,
            master_name,
            master: master.redis_settings().clone(),
            tls: base == "rediss",
        })
    }
}

/// `[userinfo@]host,host,...` and what follows the host list (`/path?query`).
struct Parts<'a> {
    userinfo: Option<&'a str>,
    hosts: Vec<&'a str>,
    tail: &'a str,
}

impl<'a> Parts<'a> {
    fn split(rest: &'a str) -> Result<Parts<'a>, String> {
        let end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(end);
        let (userinfo, hosts) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        let hosts: Vec<&str> = hosts.split(',').map(str::trim).collect();
        if hosts.iter().any(|h| h.is_empty()) {
            return Err("the host list has an empty entry (expected host:port,host:port)".into());
        }
        Ok(Parts {
            userinfo,
            hosts,
            tail,
        })
    }
}

fn parse_one(
    scheme: &str,
    userinfo: Option<&str>,
    host: &str,
    tail: &str,
) -> Result<ConnectionInfo, String> {
    let at = userinfo.map(|u| format!("{u}@")).unwrap_or_default();
    format!("{scheme}://{at}{host}{tail}")
        .into_connection_info()
        .map_err(|e| format!("{host}: {e}"))
}

/// `host:port` or `[v6]:port` rather than a bare host.
fn has_port(host: &str) -> bool {
    match host.rsplit_once(':') {
        Some((h, port)) => !h.is_empty() && !port.contains(']'),
        None => false,
    }
}

/// A node URL with its credentials replaced by `***`: the user and
/// password before `@`, and the value of every query parameter whose name
/// mentions a password (`sentinel_password=`). For messages and logs; the
/// command line shows node URLs through it too.
pub fn redact(url: &str) -> String {
    // Everything between the scheme and the last '@' may be credentials,
    // wherever a '?' or a '#' sits in it (a URL that does not parse can put
    // the userinfo after a '?', found by fuzz/ config): all of it is masked.
    let masked = match url.rfind('@') {
        Some(at) => match url.find("://").filter(|&s| s < at) {
            Some(s) => format!("{}://***@{}", &url[..s], &url[at + 1..]),
            None => format!("***@{}", &url[at + 1..]),
        },
        None => url.to_string(),
    };
    let Some((base, query)) = masked.split_once('?') else {
        return masked;
    };
    let pairs: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((k, _)) if k.to_ascii_lowercase().contains("password") => format!("{k}=***"),
            _ => pair.to_string(),
        })
        .collect();
    format!("{base}?{}", pairs.join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use redis::ConnectionAddr;

    #[test]
    fn redact_hides_credentials() {
        assert_eq!(redact("redis://u:secret@h:1/0"), "redis://***@h:1/0");
        assert_eq!(redact("redis://h:1"), "redis://h:1");
        // Found by fuzz/ config: a '?' before the userinfo.
        assert_eq!(
            redact("redis://\0?\0ZZ:secret@[::1]:/?"),
            "redis://***@[::1]:/?"
        );
        assert_eq!(redact("redis:u:secret@h"), "***@h");
        assert_eq!(
            redact("redis+sentinel://u:s3@a:1,b:2/m?sentinel_password=s4&protocol=resp3"),
            "redis+sentinel://***@a:1,b:2/m?sentinel_password=***&protocol=resp3"
        );
    }

    #[test]
    fn a_cluster_url_is_a_seed_list_sharing_credentials() {
        let url = "redis+cluster://u:p%40ss@10.0.0.1:7000,10.0.0.2:7001?protocol=resp3";
        let NodeUrl::Cluster(seeds) = NodeUrl::parse(url).unwrap() else {
            panic!("not a cluster")
        };
        assert_eq!(seeds.len(), 2);
        assert_eq!(seeds[1].addr().to_string(), "10.0.0.2:7001");
        assert_eq!(seeds[0].redis_settings().password(), Some("p@ss"));
        assert_eq!(
            NodeUrl::parse(url).unwrap().name(url),
            "redis+cluster://10.0.0.1:7000,10.0.0.2:7001"
        );
        let tls = NodeUrl::parse("rediss+cluster://h:1").unwrap();
        let NodeUrl::Cluster(seeds) = tls else {
            panic!()
        };
        assert!(matches!(seeds[0].addr(), ConnectionAddr::TcpTls { .. }));
    }

    #[test]
    fn a_sentinel_url_names_the_master_and_keeps_two_sets_of_credentials() {
        let url =
            "redis+sentinel://mu:mp@s1:5000,s2/mymaster/3?sentinel_password=sp&protocol=resp3";
        let NodeUrl::Sentinel(s) = NodeUrl::parse(url).unwrap() else {
            panic!("not a sentinel URL")
        };
        assert_eq!(s.master_name, "mymaster");
        assert_eq!(s.master.db(), 3);
        assert_eq!(s.master.password(), Some("mp"));
        assert_eq!(s.master.username(), Some("mu"));
        assert_eq!(s.master.protocol(), redis::ProtocolVersion::RESP3);
        assert_eq!(s.sentinels[0].addr().to_string(), "s1:5000");
        assert_eq!(s.sentinels[1].addr().to_string(), "s2:26379");
        assert_eq!(s.sentinels[0].redis_settings().password(), Some("sp"));
        assert!(!s.tls);
        assert_eq!(
            NodeUrl::parse(url).unwrap().name(url),
            "redis+sentinel://s1:5000,s2/mymaster/3"
        );
    }

    #[test]
    fn bad_cluster_and_sentinel_urls_say_why_without_the_password() {
        for (url, why) in [
            ("redis+cluster://u:secret@h:1,,h:2", "empty entry"),
            ("redis+cluster://u:secret@h:1/2", "only database 0"),
            ("redis+cluster://u:secret@h:notaport", "h:notaport"),
            ("redis+sentinel://u:secret@h:1", "master's name is missing"),
            ("redis+sentinel://u:secret@h:1/", "master's name is missing"),
            (
                "redis+sentinel://u:secret@h:1/m/0/x",
                "/<master name>[/<db>]",
            ),
            (
                "redis+sentinel://h:1/?sentinel_password=secret",
                "master's name",
            ),
        ] {
            let Err(message) = NodeUrl::parse(url) else {
                panic!("{url} accepted")
            };
            assert!(message.contains(why), "{url}: {message}");
            assert!(!message.contains("secret"), "{message}");
        }
    }
}
