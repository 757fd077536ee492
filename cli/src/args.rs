//! The command line, as clap derive types. Validation that depends on more
//! than one value lives with the command that uses it; the library validates
//! ttls and ids itself (one place for each rule).

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::exit::STATUS_HELP;

/// Redlock locks and leader election over N independent Redis masters, for
/// shell scripts, cron jobs and services: what flock, `consul lock` and
/// `etcdctl lock`/`etcdctl elect` do, over plain Redis.
#[derive(Debug, Parser)]
#[command(name = "redlead", version, after_help = STATUS_HELP, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct Global {
    /// A Redis master: redis://HOST:PORT, with credentials
    /// redis://USER:PASSWORD@HOST:PORT/DB, rediss:// for TLS; a Redis Cluster
    /// as one node: redis+cluster://HOST:PORT,HOST:PORT; a Sentinel-managed
    /// master: redis+sentinel://HOST:PORT,HOST:PORT/MASTER-NAME. Repeat for
    /// each node, or separate URLs with commas (a comma starts a new URL only
    /// before a scheme); a quorum is N/2+1. Passwords are never printed.
    #[arg(
        short = 'n',
        long = "node",
        value_name = "URL",
        env = "REDLEAD_NODES",
        hide_env_values = true,
        global = true
    )]
    pub nodes: Vec<String>,

    /// PEM file of the CA that signed the nodes' TLS certificates (rediss://
    /// nodes; without it, the public webpki roots are trusted).
    #[arg(long, value_name = "FILE", env = "REDLEAD_TLS_CA", global = true)]
    pub tls_ca: Option<PathBuf>,

    /// PEM client certificate, for nodes that require client authentication
    /// (with --tls-key).
    #[arg(long, value_name = "FILE", requires = "tls_key", global = true)]
    pub tls_cert: Option<PathBuf>,

    /// PEM key of the client certificate (with --tls-cert).
    #[arg(long, value_name = "FILE", requires = "tls_cert", global = true)]
    pub tls_key: Option<PathBuf>,

    /// How long one node may take to answer one command.
    #[arg(long, value_name = "DURATION", default_value = "50ms", value_parser = duration, global = true)]
    pub node_timeout: Duration,

    /// More logs on stderr: -v info, -vv debug, -vvv trace (REDLEAD_LOG overrides).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run CMD while holding a lock (like flock / consul lock).
    ///
    /// Acquires a fenced lock on RESOURCE (waiting up to --wait), runs CMD
    /// with the fencing token in REDLEAD_FENCING_TOKEN (and REDLEAD_RESOURCE),
    /// keeps the lock extended while CMD runs and releases it when CMD exits;
    /// redlead exits with CMD's status.
    ///
    /// If the lock cannot be kept (extensions keep failing, or a quorum says
    /// it is gone), CMD gets SIGTERM while the lock is still valid — at the
    /// latest --grace plus the safety margin, max(ttl/10, 2 x node timeout),
    /// before the validity ends — and SIGKILL --grace later, so it is gone
    /// before anyone else can take the lock; redlead then exits with 75.
    ///
    /// SIGINT, SIGTERM and SIGHUP are forwarded to CMD, which runs in a
    /// process group of its own; the lock is released once CMD has exited. If
    /// redlead itself dies, the kernel kills CMD (SIGKILL).
    #[command(after_help = STATUS_HELP)]
    Lock(LockArgs),
    /// Run CMD only while this candidate leads (like etcdctl elect).
    ///
    /// Campaigns for RESOURCE as --id. When elected, runs CMD with
    /// REDLEAD_TERM (the term, which is also its fencing token, in
    /// REDLEAD_FENCING_TOKEN), REDLEAD_LEADER_ID and REDLEAD_RESOURCE.
    ///
    /// When leadership ends (renewals failed, taken over), CMD gets SIGTERM,
    /// then SIGKILL --grace later, both a safety margin before the lease
    /// runs out; then redlead campaigns again (with --once it exits with 75).
    ///
    /// If CMD exits by itself while leading, redlead resigns (a follower takes
    /// over within milliseconds) and exits with CMD's status. SIGINT, SIGTERM
    /// and SIGHUP are forwarded to a running CMD (then as above); a follower
    /// exits at once with 128 + the signal. If redlead itself dies, the kernel
    /// kills CMD (SIGKILL).
    #[command(after_help = STATUS_HELP)]
    Elect(ElectArgs),
    /// Show who holds resources, per node and as the quorum sees it.
    ///
    /// For each node: the holder (owner label of the value `<token>:<owner>`),
    /// the key's remaining ttl (PTTL) and the fencing counter; then the value
    /// a majority of nodes hold. Exits 69 when fewer than a quorum answered.
    Status(StatusArgs),
    /// Print the leader of RESOURCE, then each change, one line each (like
    /// etcdctl elect -l), without campaigning.
    ///
    /// The leader is the owner id of the lock value that a quorum of nodes
    /// holds; "(none)" when no value has a quorum (nobody holds it, a
    /// handover is under way, the nodes disagree) or fewer than a quorum of
    /// nodes answer. The nodes are asked every --poll and at once when a
    /// node announces a release or a resignation. Runs until SIGINT, SIGTERM
    /// or SIGHUP (exit 0).
    Observe(ObserveArgs),
    /// Start N local redis-server nodes and show an election live: the
    /// leader, a node outage, a resignation, a crash and failover times.
    ///
    /// Needs redis-server in PATH. Ignores --node. Finishes by itself in well
    /// under a minute; Ctrl-C stops it and the nodes at any time.
    Demo(DemoArgs),
}

#[derive(Debug, Args)]
pub struct LockArgs {
    /// The resource to lock (any name; the key is redlead:{RESOURCE}).
    pub resource: String,

    /// Lock ttl: how long the lock survives redlead without an extension.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = duration)]
    pub ttl: Duration,

    /// How long to wait for the lock when another holds it (0: one attempt).
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = duration)]
    pub wait: Duration,

    /// Time between SIGTERM and SIGKILL when the lock is lost; default
    /// min(ttl/10, 5s), at most ttl/4.
    #[arg(long, value_name = "DURATION", value_parser = duration)]
    pub grace: Option<Duration>,

    /// Name of the environment variable that carries the fencing token.
    #[arg(long, value_name = "NAME", default_value = "REDLEAD_FENCING_TOKEN")]
    pub fencing_env: String,

    /// Owner label stored with the lock, shown by `redlead status`
    /// (default HOSTNAME:PID).
    #[arg(long, value_name = "LABEL")]
    pub owner: Option<String>,

    /// The command to run, after `--`.
    #[arg(last = true, required = true, value_name = "CMD")]
    pub cmd: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ElectArgs {
    /// The resource to lead (any name shared by all candidates).
    pub resource: String,

    /// This candidate's id, unique among the candidates (default HOSTNAME:PID).
    #[arg(long, value_name = "ID")]
    pub id: Option<String>,

    /// Lease length: how long a crashed leader blocks the others at most.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = duration)]
    pub ttl: Duration,

    /// Time between SIGTERM and SIGKILL when leadership ends; default
    /// min(ttl/10, 5s), at most ttl/4.
    #[arg(long, value_name = "DURATION", value_parser = duration)]
    pub grace: Option<Duration>,

    /// Exit after the first leadership instead of campaigning again (75 when
    /// it was lost, CMD's status when CMD exited).
    #[arg(long)]
    pub once: bool,

    /// The command to run while leading, after `--`.
    #[arg(last = true, required = true, value_name = "CMD")]
    pub cmd: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ObserveArgs {
    /// The resource to observe.
    pub resource: String,

    /// How often to ask the nodes when nothing is announced.
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = duration)]
    pub poll: Duration,

    /// One JSON object per line: {"resource", "leader", "value"}.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Resources to show.
    #[arg(required = true, value_name = "RESOURCE")]
    pub resources: Vec<String>,

    /// One JSON document (per refresh with --watch, one per line).
    #[arg(long)]
    pub json: bool,

    /// Refresh every INTERVAL (default 1s) until interrupted.
    #[arg(long, value_name = "INTERVAL", num_args = 0..=1, default_missing_value = "1s", value_parser = duration)]
    pub watch: Option<Duration>,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// How many redis-server nodes to start (odd numbers make sense).
    #[arg(long = "nodes", id = "node_count", value_name = "N", default_value_t = 5, value_parser = clap::value_parser!(u8).range(3..=9))]
    pub nodes: u8,

    /// How many candidates campaign.
    #[arg(long, value_name = "N", default_value_t = 3, value_parser = clap::value_parser!(u8).range(2..=9))]
    pub candidates: u8,

    /// Lease ttl of the election.
    #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = duration)]
    pub ttl: Duration,
}

/// A duration in humantime form: 30s, 1500ms, 2m, 1h30m.
fn duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s).map_err(|e| format!("{e} (use e.g. 30s, 500ms, 2m)"))
}

/// The default grace: min(ttl/10, 5s).
pub fn default_grace(ttl: Duration) -> Duration {
    (ttl / 10).min(Duration::from_secs(5))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn durations_use_humantime() {
        assert_eq!(duration("1500ms"), Ok(Duration::from_millis(1500)));
        assert_eq!(duration("2m"), Ok(Duration::from_secs(120)));
        assert!(duration("ten").is_err());
        assert_eq!(
            default_grace(Duration::from_secs(30)),
            Duration::from_secs(3)
        );
        assert_eq!(
            default_grace(Duration::from_secs(600)),
            Duration::from_secs(5)
        );
    }
}
