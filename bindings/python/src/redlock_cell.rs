//! A `Client`'s core client, rebuilt in a forked child on first use.
//!
//! After `fork()` the child has none of the parent's threads: the runtime
//! that drove the connections is gone, and sharing the parent's sockets
//! would interleave two processes' commands on one connection. redis-py's
//! pools reset themselves in a child; so does this: the child gets a new
//! `Redlock` (new connections on the child's own runtime; lock values come
//! from the OS RNG per call, so nothing random is inherited). Locks and
//! elections made in the parent are not rebuilt: the parent holds them, and
//! the core's fork guard keeps them "not held" in the child.

use std::mem::ManuallyDrop;
use std::sync::Mutex;

use pyo3::prelude::*;
use redlead::io_thread::IoRuntime;
use redlead::{Config, Redlock};

use crate::errors::IntoPy;
use crate::runtime::runtime;

/// A core client and the runtime it lives on, in the process that made them.
#[derive(Clone)]
pub struct Core {
    pub redlock: Redlock,
    pub rt: IoRuntime,
    pub pid: u32,
}

impl Core {
    fn build(py: Python<'_>, nodes: &[String], config: Config) -> PyResult<Core> {
        let rt = runtime()?;
        let redlock = {
            let _in_runtime = rt.handle().enter();
            Redlock::new(nodes, config).py_err(py)?
        };
        Ok(Core {
            redlock,
            rt,
            pid: std::process::id(),
        })
    }
}

pub struct RedlockCell {
    nodes: Vec<String>,
    config: Config,
    /// The core made with the client; never touched after a fork (dropping
    /// it in a child would act on the parent's tasks), hence ManuallyDrop.
    first: ManuallyDrop<Core>,
    /// The core of a forked child, made on its first use there. Only ever
    /// locked in a child, so a fork cannot inherit it locked from a busy
    /// parent (unless that parent was itself a forked child using it).
    rebuilt: Mutex<Option<Core>>,
}

impl RedlockCell {
    pub fn new(py: Python<'_>, nodes: Vec<String>, config: Config) -> PyResult<RedlockCell> {
        let first = Core::build(py, &nodes, config.clone())?;
        Ok(RedlockCell {
            nodes,
            config,
            first: ManuallyDrop::new(first),
            rebuilt: Mutex::new(None),
        })
    }

    /// The core client of this process: the first one, or in a forked child
    /// one made there (on first use).
    pub fn get(&self, py: Python<'_>) -> PyResult<Core> {
        let pid = std::process::id();
        if self.first.pid == pid {
            return Ok((*self.first).clone());
        }
        let mut slot = self.rebuilt.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(core) = slot.as_ref().filter(|c| c.pid == pid) {
            return Ok(core.clone());
        }
        let fresh = Core::build(py, &self.nodes, self.config.clone())?;
        // A grandchild's: its parent's rebuilt core, left alone as above.
        if let Some(inherited) = slot.replace(fresh.clone()) {
            std::mem::forget(inherited);
        }
        Ok(fresh)
    }

    /// The core for answers that need no connection (names, quorum, keys):
    /// the same in every process.
    pub fn any(&self) -> &Redlock {
        &self.first.redlock
    }
}

impl Drop for RedlockCell {
    fn drop(&mut self) {
        if self.first.pid == std::process::id() {
            // SAFETY: dropped once, here, and never used again.
            unsafe { ManuallyDrop::drop(&mut self.first) };
        }
        let rebuilt = self.rebuilt.get_mut().unwrap_or_else(|p| p.into_inner());
        if let Some(core) = rebuilt.take() {
            if core.pid != std::process::id() {
                std::mem::forget(core);
            }
        }
    }
}
