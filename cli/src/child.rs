//! CMD: started in a process group of its own, stopped with SIGTERM then
//! SIGKILL, and waited for without being reaped until redlead is done
//! signalling it.
//!
//! Why not `tokio::process`: its `wait` reaps the child, after which the
//! child's pid — which is also its process group id — may be reused by an
//! unrelated process, and a later `killpg` would hit that one. Here a thread
//! waits with `waitid(WNOWAIT)`, which reports the exit but leaves the zombie
//! in place, so the process group id stays ours until [`Child::reap`].

use std::io;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use crate::exit::{self, Failure, CANNOT_EXECUTE, NOT_FOUND};

/// A running (or exited, not yet reaped) CMD.
pub struct Child {
    pid: i32,
    program: String,
    /// Set by the waiter thread when CMD exits: its shell-style status.
    exited: watch::Receiver<Option<u8>>,
    reaped: bool,
}

/// Checks, before anything is acquired, that CMD can be run: a clear 127 or
/// 126 now instead of after taking the lock.
pub fn check_program(cmd: &[String]) -> Result<(), Failure> {
    let Some(program) = cmd.first() else {
        return Err(Failure::usage(
            "missing command: give it after `--`: RESOURCE [OPTIONS] -- CMD [ARGS...]",
        ));
    };
    let found = if program.contains('/') {
        Some(PathBuf::from(program))
    } else {
        std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join(program))
                .find(|p| p.is_file())
        })
    };
    match found {
        Some(p) if p.is_file() && is_executable(&p) => Ok(()),
        Some(p) if p.exists() => Err(Failure::new(
            CANNOT_EXECUTE,
            format!("{program}: cannot execute (not an executable file)"),
        )),
        _ => Err(Failure::new(
            NOT_FOUND,
            format!("{program}: command not found"),
        )),
    }
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.permissions().mode() & 0o111 != 0)
}

impl Child {
    /// Starts CMD with `env` added to redlead's environment, in a new process
    /// group, set to be killed (SIGKILL) if redlead dies first.
    ///
    /// Call it from the runtime's main task (the main thread): on Linux the
    /// parent-death signal follows the thread that forked.
    pub fn spawn(cmd: &[String], env: &[(String, String)]) -> Result<Child, Failure> {
        check_program(cmd)?;
        let program = cmd[0].clone();
        let mut command = std::process::Command::new(&program);
        command.args(&cmd[1..]).process_group(0);
        for (k, v) in env {
            command.env(k, v);
        }
        #[cfg(target_os = "linux")]
        {
            let parent = std::process::id() as libc::pid_t;
            // Safety: only async-signal-safe calls between fork and exec.
            unsafe {
                command.pre_exec(move || {
                    libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                    // redlead died before prctl took effect: do not run
                    // unprotected.
                    if libc::getppid() != parent {
                        libc::raise(libc::SIGKILL);
                    }
                    Ok(())
                });
            }
        }
        let child = command.spawn().map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => {
                Failure::new(NOT_FOUND, format!("{program}: command not found"))
            }
            io::ErrorKind::PermissionDenied => {
                Failure::new(CANNOT_EXECUTE, format!("{program}: cannot execute: {e}"))
            }
            _ => Failure::new(CANNOT_EXECUTE, format!("{program}: cannot start: {e}")),
        })?;
        let pid = child.id() as i32;
        // The std handle is dropped without waiting: the waiter below and
        // `reap` do the waiting.
        drop(child);
        let (tx, exited) = watch::channel(None);
        std::thread::Builder::new()
            .name("redlead-wait".into())
            .spawn(move || {
                let _ = tx.send(Some(wait_no_reap(pid)));
            })
            .map_err(|e| Failure::internal(format!("cannot start a waiter thread: {e}")))?;
        tracing::info!(pid, program, "started CMD");
        Ok(Child {
            pid,
            program,
            exited,
            reaped: false,
        })
    }

    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// CMD's status once it has exited.
    pub fn status(&self) -> Option<u8> {
        *self.exited.borrow()
    }

    /// Waits for CMD to exit and returns its status (it is not reaped yet).
    ///
    /// # Cancel safety
    /// Safe: nothing is consumed; wait again.
    pub async fn exited(&mut self) -> u8 {
        match self.exited.wait_for(Option::is_some).await {
            Ok(s) => s.unwrap_or(exit::INTERNAL),
            Err(_) => exit::INTERNAL,
        }
    }

    /// Sends `signal` to CMD's process group (also to what CMD started).
    pub fn signal(&self, signal: i32) {
        if self.reaped {
            return;
        }
        // Safety: plain syscall; the group id is still ours (not reaped).
        let rc = unsafe { libc::kill(-self.pid, signal) };
        if rc != 0 {
            tracing::debug!(pid = self.pid, signal, error = %io::Error::last_os_error(), "killpg");
        }
    }

    /// SIGTERM to CMD's group now, SIGKILL to whatever of it is left after
    /// `grace`; returns CMD's status. Returns early when CMD and everything it
    /// started have exited.
    pub async fn stop(&mut self, grace: Duration) -> u8 {
        let start = Instant::now();
        tracing::info!(pid = self.pid, program = %self.program, ?grace, "stopping CMD: SIGTERM");
        self.signal(libc::SIGTERM);
        let deadline = start + grace;
        while Instant::now() < deadline {
            if self.status().is_some() && !group_has_others(self.pid) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5).min(deadline - Instant::now())).await;
        }
        if self.status().is_none() || group_has_others(self.pid) {
            tracing::warn!(pid = self.pid, program = %self.program, "CMD still running after the grace period: SIGKILL");
            self.signal(libc::SIGKILL);
        }
        let status = self.exited().await;
        tracing::info!(
            pid = self.pid,
            status,
            stopped_ms = start.elapsed().as_millis() as u64,
            "CMD stopped"
        );
        status
    }

    /// Collects the exited CMD; no signal is sent after this.
    pub async fn reap(&mut self) -> u8 {
        let status = self.exited().await;
        if !self.reaped {
            let mut st = 0;
            // Safety: plain syscall on our own exited child.
            unsafe { libc::waitpid(self.pid, &mut st, 0) };
            self.reaped = true;
        }
        status
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if !self.reaped && self.status().is_none() {
            // Only on an error path: never leave CMD running unprotected.
            self.signal(libc::SIGKILL);
        }
    }
}

/// Blocks until `pid` exits and returns its shell-style status, leaving it a
/// zombie (WNOWAIT).
fn wait_no_reap(pid: i32) -> u8 {
    loop {
        // Safety: zeroed siginfo_t is a valid out-parameter for waitid.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        let rc = unsafe {
            libc::waitid(
                libc::P_PID,
                pid as libc::id_t,
                &mut info,
                libc::WEXITED | libc::WNOWAIT,
            )
        };
        if rc == 0 {
            // Safety: waitid filled a SIGCHLD siginfo.
            let status = unsafe { info.si_status() };
            return match info.si_code {
                libc::CLD_EXITED => exit::of_wait_status(Some(status), None),
                _ => exit::of_wait_status(None, Some(status)),
            };
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            tracing::error!(pid, error = %err, "waitid failed");
            return exit::INTERNAL;
        }
    }
}

/// True while a process other than `leader` (and not a zombie) is in the
/// process group `leader` leads. Outside Linux: assume yes (wait the whole
/// grace period).
fn group_has_others(leader: i32) -> bool {
    if !cfg!(target_os = "linux") {
        return true;
    }
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return true;
    };
    for entry in dir.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        if pid == leader {
            continue;
        }
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // "pid (comm) state ppid pgrp ...": comm may hold spaces and parens.
        let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
            continue;
        };
        let mut fields = rest.split_whitespace();
        let state = fields.next();
        let pgrp = fields.nth(1).and_then(|f| f.parse::<i32>().ok());
        if pgrp == Some(leader) && state != Some("Z") {
            return true;
        }
    }
    false
}

/// The signals redlead forwards to CMD.
pub struct Signals {
    int: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
    hup: tokio::signal::unix::Signal,
}

impl Signals {
    /// Installs the handlers (from then on these signals no longer kill
    /// redlead; they are delivered by `recv`).
    pub fn install() -> Result<Signals, Failure> {
        use tokio::signal::unix::{signal, SignalKind};
        let f = |e: io::Error| Failure::internal(format!("cannot install signal handlers: {e}"));
        Ok(Signals {
            int: signal(SignalKind::interrupt()).map_err(f)?,
            term: signal(SignalKind::terminate()).map_err(f)?,
            hup: signal(SignalKind::hangup()).map_err(f)?,
        })
    }

    /// The next signal received.
    ///
    /// # Cancel safety
    /// Safe (tokio's `Signal::recv` is).
    pub async fn recv(&mut self) -> i32 {
        tokio::select! {
            _ = self.int.recv() => libc::SIGINT,
            _ = self.term.recv() => libc::SIGTERM,
            _ = self.hup.recv() => libc::SIGHUP,
        }
    }
}

/// A signal's name, for messages.
pub fn signal_name(signal: i32) -> &'static str {
    match signal {
        libc::SIGINT => "SIGINT",
        libc::SIGTERM => "SIGTERM",
        libc::SIGHUP => "SIGHUP",
        libc::SIGKILL => "SIGKILL",
        _ => "signal",
    }
}
