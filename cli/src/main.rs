//! `redlead`: Redlock locks and leader election from the command line.
//!
//! - `lock`   (lock.rs)   run a command while holding a lock
//! - `elect`  (elect.rs)  run a command only while leading
//! - `status` (status.rs) who holds what, per node and by quorum
//! - `observe` (observe.rs) the leader of a resource and each change
//! - `demo`   (demo/)     local nodes, an election, failures, timings
//!
//! Around them: the command line (args.rs), exit statuses and the one-line
//! failure (exit.rs), nodes and password scrubbing (nodes.rs), the child
//! process and signals (child.rs), when CMD is told to stop (timing.rs).
//! One tokio runtime, built here.

mod args;
mod child;
mod demo;
mod elect;
mod exit;
mod lock;
mod nodes;
mod observe;
mod status;
mod timing;

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

use clap::error::ErrorKind;
use clap::Parser;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::EnvFilter;

use crate::args::{Cli, Command};
use crate::exit::Failure;

fn main() -> ExitCode {
    quiet_panics();
    // An application chooses the rustls provider (core/src/tls.rs).
    redlead::tls::install_ring_provider();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return ExitCode::from(usage_error(e)),
    };
    // The demo speaks for itself; the library's warnings about the faults
    // it injects on purpose would only clutter it.
    let quiet = matches!(cli.command, Command::Demo(_));
    init_logs(cli.global.verbose, if quiet { "error" } else { "warn" });
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("redlead-rt")
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            Failure::internal(format!("cannot start the runtime: {e}")).report();
            return ExitCode::from(exit::INTERNAL);
        }
    };
    let result =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| runtime.block_on(run(cli))));
    // Background work (a release still settling on a slow node) gets a
    // moment; the keys expire by themselves anyway.
    runtime.shutdown_timeout(Duration::from_millis(200));
    match result {
        Ok(Ok(status)) => ExitCode::from(status),
        Ok(Err(failure)) => {
            failure.report();
            ExitCode::from(failure.status)
        }
        // The panic hook has printed the one line.
        Err(_) => ExitCode::from(exit::INTERNAL),
    }
}

async fn run(cli: Cli) -> Result<u8, Failure> {
    let global = cli.global;
    match cli.command {
        Command::Lock(a) => lock::run(&global, a).await,
        Command::Elect(a) => elect::run(&global, a).await,
        Command::Status(a) => status::run(&global, a).await,
        Command::Observe(a) => observe::run(&global, a).await,
        Command::Demo(a) => demo::run(a).await,
    }
}

/// Help and version go to stdout with status 0; every other parse error
/// becomes one line on stderr and status 64.
fn usage_error(e: clap::Error) -> u8 {
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            let _ = e.print();
            0
        }
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = e.print();
            exit::USAGE
        }
        _ => {
            let text = e.render().to_string();
            // clap's message: "error: ..." with indented continuation lines
            // (the missing arguments), a blank line, usage, maybe a tip.
            let mut parts: Vec<String> = Vec::new();
            let mut in_error = false;
            for line in text.lines() {
                let l = line.trim();
                if let Some(rest) = l.strip_prefix("error:") {
                    parts.push(rest.trim().to_string());
                    in_error = true;
                } else if l.is_empty() || l.starts_with("Usage:") {
                    in_error = false;
                } else if l.starts_with("tip:") {
                    parts.push(l.to_string());
                } else if in_error {
                    if let Some(last) = parts.last_mut() {
                        last.push(' ');
                        last.push_str(l);
                    }
                }
            }
            let after_dashes = std::env::args().any(|a| a == "--");
            if e.kind() == ErrorKind::UnknownArgument && !after_dashes && parts.len() == 1 {
                parts.push(
                    "the command to run goes after `--`: RESOURCE [OPTIONS] -- CMD [ARGS...]"
                        .into(),
                );
            }
            if parts.is_empty() {
                parts.push(
                    text.lines()
                        .next()
                        .unwrap_or("bad command line")
                        .to_string(),
                );
            }
            Failure::usage(format!("{} (see redlead --help)", parts.join("; "))).report();
            exit::USAGE
        }
    }
}

/// `REDLEAD_LOG` (EnvFilter directives) or the -v count; on stderr, with
/// node passwords scrubbed from every line.
fn init_logs(verbose: u8, default: &str) {
    let filter = match std::env::var("REDLEAD_LOG") {
        Ok(directives) if !directives.trim().is_empty() => EnvFilter::new(directives),
        _ => EnvFilter::new(match verbose {
            0 => default,
            1 => "info",
            2 => "debug",
            _ => "trace",
        }),
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(ScrubbedStderr)
        .init();
}

/// Writes each log line to stderr once complete, with passwords scrubbed.
struct ScrubbedStderr;

struct ScrubbedLine(Vec<u8>);

impl<'a> MakeWriter<'a> for ScrubbedStderr {
    type Writer = ScrubbedLine;
    fn make_writer(&'a self) -> ScrubbedLine {
        ScrubbedLine(Vec::with_capacity(256))
    }
}

impl std::io::Write for ScrubbedLine {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for ScrubbedLine {
    fn drop(&mut self) {
        if !self.0.is_empty() {
            eprint!("{}", nodes::scrub(&String::from_utf8_lossy(&self.0)));
        }
    }
}

/// A bug prints one line, not a backtrace; main turns it into status 70.
fn quiet_panics() {
    std::panic::set_hook(Box::new(|info| {
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown".into());
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!(
            "redlead: internal error (a bug, please report it){at}: {}",
            nodes::scrub(&msg)
        );
    }));
}
