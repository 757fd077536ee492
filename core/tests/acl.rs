//! Redis ACL: a user limited to exactly what redlead sends (docs/acl.md)
//! runs locks, fenced locks and elections; each permission of that rule is
//! needed (without it the server logs a denial); a wrong password and a
//! missing permission give a clear error that never shows the password, in
//! Display, Debug or the tracing output.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use redlead::{Config, Election, ElectionConfig, ErrorKind, LockOptions, Redlock};
use redlead_harness::Cluster;
use tokio::time::Instant;

/// The commands of docs/acl.md's rule, one permission each.
const COMMANDS: &[&str] = &[
    "set",
    "get",
    "del",
    "pexpire",
    "zadd",
    "zscore",
    "evalsha",
    "script|load",
    "publish",
    "subscribe",
    "ping",
];

/// Sent by redis-rs as a new connection starts; servers know it since
/// Redis 7.2 (older ones answer an error that redis-rs ignores).
const SETINFO: &str = "client|setinfo";

/// The rule's commands for the servers of `cluster`.
fn rule(cluster: &Cluster) -> Vec<&'static str> {
    let known: Vec<redis::Value> = redis::cmd("COMMAND")
        .arg("INFO")
        .arg(SETINFO)
        .query(&mut admin(&cluster.nodes[0].url()))
        .expect("COMMAND INFO");
    let mut rule = COMMANDS.to_vec();
    if known.first().is_some_and(|v| *v != redis::Value::Nil) {
        rule.push(SETINFO);
    }
    rule
}

const PASSWORD: &str = "s3cret-Pa55word";

/// `ACL SETUSER <user> ...` on every node: docs/acl.md's rule, with the
/// commands given.
fn add_user(cluster: &Cluster, user: &str, commands: &[&str]) {
    for node in &cluster.nodes {
        let mut con = admin(&node.url());
        let mut cmd = redis::cmd("ACL");
        cmd.arg("SETUSER")
            .arg(user)
            .arg("reset")
            .arg("on")
            .arg(format!(">{PASSWORD}"))
            .arg("~redlead:*")
            .arg("&redlead:*")
            .arg("-@all");
        for c in commands {
            cmd.arg(format!("+{c}"));
        }
        cmd.query::<()>(&mut con).expect("ACL SETUSER");
    }
}

fn admin(url: &str) -> redis::Connection {
    redis::Client::open(url)
        .and_then(|c| c.get_connection())
        .expect("admin connection")
}

fn urls_as(cluster: &Cluster, user: &str, password: &str) -> Vec<String> {
    cluster
        .nodes
        .iter()
        .map(|n| format!("redis://{user}:{password}@127.0.0.1:{}", n.port()))
        .collect()
}

/// What the servers denied, as `(reason, object)` (`("command", "evalsha")`,
/// `("auth", "AUTH")`), over every node; and the log is reset.
fn denials(cluster: &Cluster) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for node in &cluster.nodes {
        let mut con = admin(&node.url());
        let log: Vec<HashMap<String, redis::Value>> = redis::cmd("ACL")
            .arg("LOG")
            .query(&mut con)
            .expect("ACL LOG");
        for entry in log {
            let text = |k: &str| match entry.get(k) {
                Some(redis::Value::BulkString(b)) => String::from_utf8_lossy(b).to_string(),
                other => format!("{other:?}"),
            };
            out.push((text("reason"), text("object")));
        }
        redis::cmd("ACL")
            .arg("LOG")
            .arg("RESET")
            .query::<()>(&mut con)
            .unwrap();
    }
    out
}

fn subscribers(cluster: &Cluster, channel: &str) -> Vec<i64> {
    cluster
        .nodes
        .iter()
        .map(|n| {
            let (_, count): (String, i64) = redis::cmd("PUBSUB")
                .arg("NUMSUB")
                .arg(channel)
                .query::<Vec<(String, i64)>>(&mut admin(&n.url()))
                .unwrap()
                .remove(0);
            count
        })
        .collect()
}

/// Every operation redlead offers, best effort (a denied permission makes
/// some fail); the steps that failed, by name.
async fn every_operation(cluster: &Cluster, rl: &Redlock) -> Vec<String> {
    let mut failed = Vec::new();
    let ttl = Duration::from_secs(5);
    if rl
        .ping()
        .await
        .iter()
        .any(|r| r.outcome.to_string() != "ok")
    {
        failed.push("ping".to_string());
    }
    match rl.try_acquire("acl-r", ttl).await {
        Ok(lock) => {
            if let Err(e) = lock.extend(ttl).await {
                failed.push(format!("extend: {e}"));
            }
            if let Err(e) = rl.holder("acl-r").await {
                failed.push(format!("holder: {e}"));
            }
            if let Err(e) = lock.release().await {
                failed.push(format!("release: {e}"));
            }
        }
        Err(e) => failed.push(format!("acquire: {e}")),
    }
    match rl
        .try_acquire_with("acl-f", ttl, &LockOptions::fenced())
        .await
    {
        Ok(lock) => {
            if lock.fencing_token().is_none() {
                failed.push("fenced acquire without a token".into());
            }
            let _ = lock.release().await;
        }
        Err(e) => failed.push(format!("fenced acquire: {e}")),
    }

    // Two candidates; the leader resigns and the other takes over.
    let config = ElectionConfig::with_ttl(Duration::from_secs(1));
    let a = Election::start(rl, "acl-e", "a", config.clone(), |_| {}).unwrap();
    let b = Election::start(rl, "acl-e", "b", config, |_| {}).unwrap();
    let t = Instant::now();
    let leader = loop {
        if a.is_leader() || b.is_leader() {
            break Some(if a.is_leader() { &a } else { &b });
        }
        if t.elapsed() > Duration::from_secs(1) {
            break None;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    let channel = rl.config().key_format.resign_channel("acl-e");
    if subscribers(cluster, &channel) != [2, 2, 2] {
        failed.push(format!(
            "resign watchers subscribed: {:?}",
            subscribers(cluster, &channel)
        ));
    }
    match leader {
        None => failed.push("no leader elected".into()),
        Some(leader) => {
            match leader.resign().await {
                Ok(true) => {}
                other => failed.push(format!("resign: {other:?}")),
            }
            let follower = if std::ptr::eq(leader, &a) { &b } else { &a };
            let t = Instant::now();
            while !follower.is_leader() && t.elapsed() < Duration::from_secs(1) {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            if !follower.is_leader() {
                failed.push("no handover after resign".into());
            }
        }
    }
    a.stop().await.unwrap();
    b.stop().await.unwrap();
    rl.settled(Duration::from_secs(1)).await;
    failed
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn locks_fenced_locks_and_elections_work_as_a_user_with_only_the_documented_rule() {
    let cluster = Cluster::start_in_memory(3);
    add_user(&cluster, "redlead", &rule(&cluster));
    let rl = Redlock::new(&urls_as(&cluster, "redlead", PASSWORD), Config::default()).unwrap();
    let failed = every_operation(&cluster, &rl).await;
    assert!(
        failed.is_empty(),
        "failed as the restricted user: {failed:#?}"
    );
    let denied = denials(&cluster);
    assert!(denied.is_empty(), "the servers denied: {denied:?}");
    for node in &cluster.nodes {
        assert_eq!(node.dbsize(), Some(2), "only the two fencing counters stay");
    }
}

/// Minimal: without any one permission of the rule, the server denies
/// something redlead sends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_permission_of_the_documented_rule_is_needed() {
    let cluster = Cluster::start_in_memory(3);
    let rule = rule(&cluster);
    for (i, missing) in rule.iter().enumerate() {
        let user = format!("without-{}", missing.replace('|', "-"));
        let rest: Vec<&str> = rule
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .map(|(_, c)| *c)
            .collect();
        add_user(&cluster, &user, &rest);
        // Fresh servers: no keys a failed release left behind, no scripts
        // cached (so SCRIPT LOAD is needed).
        for node in &cluster.nodes {
            let mut con = admin(&node.url());
            redis::cmd("FLUSHALL").query::<()>(&mut con).unwrap();
            redis::cmd("SCRIPT")
                .arg("FLUSH")
                .query::<()>(&mut con)
                .unwrap();
        }
        let config = Config::default().with_retry(Duration::from_millis(20), Duration::ZERO, None);
        let rl = Redlock::new(&urls_as(&cluster, &user, PASSWORD), config).unwrap();
        let failed = every_operation(&cluster, &rl).await;
        drop(rl);
        let denied = denials(&cluster);
        println!("without +{missing}: failed {failed:?}; denied {denied:?}");
        assert!(
            denied
                .iter()
                .any(|(reason, object)| reason == "command" && object == missing),
            "without +{missing} nothing was denied ({denied:?}): the rule grants more than redlead needs"
        );
    }
}

/// A `tracing` subscriber that writes every event and span field into a
/// string (no tracing-subscriber dependency needed for one check).
struct Capture(Arc<Mutex<String>>);

struct Fields<'a>(&'a mut String);

impl tracing::field::Visit for Fields<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, "{}={value:?} ", field.name());
    }
}

impl tracing::Subscriber for Capture {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, attrs: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        attrs.record(&mut Fields(&mut self.0.lock().unwrap()));
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, values: &tracing::span::Record<'_>) {
        values.record(&mut Fields(&mut self.0.lock().unwrap()));
    }
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let mut out = self.0.lock().unwrap();
        out.push_str(event.metadata().target());
        out.push_str(": ");
        event.record(&mut Fields(&mut out));
        out.push('\n');
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

/// Current-thread runtime: every task of the client runs on this thread,
/// under the capturing subscriber.
#[tokio::test(flavor = "current_thread")]
async fn a_wrong_password_and_a_missing_permission_give_clear_errors_without_the_password() {
    let log = Arc::new(Mutex::new(String::new()));
    let _guard = tracing::subscriber::set_default(Capture(log.clone()));
    let cluster = Cluster::start_in_memory(3);
    add_user(&cluster, "redlead", &rule(&cluster));
    let ttl = Duration::from_secs(5);

    let wrong = "not-the-Pa55word";
    let rl = Redlock::new(&urls_as(&cluster, "redlead", wrong), Config::default()).unwrap();
    let e = rl.try_acquire("acl", ttl).await.unwrap_err();
    let (display, debug) = (e.to_string(), format!("{e:?} {rl:?}"));
    println!("wrong password: {display}");
    assert_eq!(e.kind(), ErrorKind::Connection, "{display}");
    for r in e
        .outcomes()
        .iter()
        .filter(|r| r.outcome.to_string() != "not awaited")
    {
        let text = r.outcome.to_string().to_lowercase();
        assert!(
            text.contains("auth") || text.contains("password"),
            "{}: {text}",
            r.node
        );
    }
    for text in [&display, &debug] {
        assert!(!text.contains(wrong), "the password shows: {text}");
    }

    add_user(&cluster, "no-scripts", &["set", "ping"]);
    let rl = Redlock::new(
        &urls_as(&cluster, "no-scripts", PASSWORD),
        Config::default(),
    )
    .unwrap();
    let lock = rl.try_acquire("acl", ttl).await.unwrap();
    let e = lock.extend(ttl).await.unwrap_err();
    let (display, debug) = (e.to_string(), format!("{e:?} {rl:?} {lock:?}"));
    println!("no EVALSHA: {display}");
    assert!(
        display.contains("NOPERM") || display.contains("NoPerm"),
        "{display}"
    );
    assert!(display.to_lowercase().contains("evalsha"), "{display}");
    for text in [&display, &debug] {
        assert!(!text.contains(PASSWORD), "the password shows: {text}");
    }
    drop(lock);
    rl.settled(Duration::from_secs(1)).await;

    let traced = log.lock().unwrap().clone();
    println!("{} bytes of tracing output", traced.len());
    assert!(
        !traced.is_empty(),
        "nothing was traced: the capture does not work"
    );
    assert!(!traced.contains(PASSWORD), "the password is traced");
    assert!(!traced.contains(wrong), "the password is traced");
}
