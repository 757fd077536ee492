//! What `Election.run_while_leader` stands on: waiting to be elected, and a
//! `Term` that a function running as leader can ask whether its term ended.
//!
//! Built on the core's events, heard on the election's event thread before
//! any Python callback runs and without the GIL: a term's end reaches a
//! waiting `Term.wait` (a condition variable) or an asyncio task's
//! cancellation (the loop's completion queue) even while Python callbacks
//! are slow or the loop is busy. The core sends `Revoked` at the step-down
//! point at the latest, before the lease's validity ends; `Term.is_set`
//! also reads the core's clock-based `is_leader` directly, so it turns true
//! on time even when the event thread is held up by a slow callback.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use pyo3::prelude::*;
use redlead::{Election, ElectionEvent, RevokeReason};

use crate::args::{duration, TIMEOUT};
use crate::asyncio::{pending_for, Pending};
use crate::errors::new_err;

/// How many ended terms are remembered (a `Term` asks about its own, which
/// ended moments ago at most a few terms back).
const ENDED_KEPT: usize = 16;

/// How often a wait re-reads the clock-based leadership and lets Python
/// deliver signals, at most.
const POLL: Duration = Duration::from_millis(25);

/// An election's terms as seen by its event thread.
#[derive(Default)]
pub struct TermWatch {
    state: Mutex<WatchState>,
    changed: Condvar,
}

/// Called once with the term when this candidate is elected, or None when
/// the election is stopped first.
type ElectedWaiter = Box<dyn FnOnce(Option<u64>) + Send>;

#[derive(Default)]
struct WatchState {
    /// Bumped on every change, so a waiter never misses one.
    generation: u64,
    ended: VecDeque<(u64, RevokeReason)>,
    closed: bool,
    elected_waiters: Vec<ElectedWaiter>,
    /// asyncio tasks to cancel when their term ends, with their loop's queue.
    cancels: Vec<(u64, Arc<Pending>, Py<PyAny>)>,
}

impl TermWatch {
    fn state(&self) -> MutexGuard<'_, WatchState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn changed(&self, mut s: MutexGuard<'_, WatchState>) {
        s.generation += 1;
        drop(s);
        self.changed.notify_all();
    }

    /// On the event thread, before the Python callbacks; never takes the GIL.
    pub fn on_event(&self, ev: &ElectionEvent) {
        let mut s = self.state();
        match ev {
            ElectionEvent::Elected { term, .. } => {
                for w in std::mem::take(&mut s.elected_waiters) {
                    w(Some(*term));
                }
            }
            ElectionEvent::Revoked { term, reason, .. } => {
                if s.ended.len() == ENDED_KEPT {
                    s.ended.pop_front();
                }
                s.ended.push_back((*term, *reason));
                let (now, later) = std::mem::take(&mut s.cancels)
                    .into_iter()
                    .partition(|(t, _, _)| t == term);
                s.cancels = later;
                for (_, pending, task) in now {
                    pending.push(Box::new(move |py| cancel(py, &task)));
                }
            }
            ElectionEvent::LeaderChanged { .. } => return,
        }
        self.changed(s);
    }

    /// The election was stopped: nobody will be elected any more.
    pub fn close(&self) {
        let mut s = self.state();
        s.closed = true;
        let waiters = std::mem::take(&mut s.elected_waiters);
        let cancels = std::mem::take(&mut s.cancels);
        for w in waiters {
            w(None);
        }
        for (_, pending, task) in cancels {
            pending.push(Box::new(move |py| cancel(py, &task)));
        }
        self.changed(s);
    }

    fn reason_of(&self, term: u64) -> Option<RevokeReason> {
        self.state()
            .ended
            .iter()
            .find(|(t, _)| *t == term)
            .map(|(_, r)| *r)
    }

    /// Waits (without the GIL) until something changes after `generation`
    /// or `at_most` passed.
    fn wait_change(&self, generation: u64, at_most: Duration) {
        let s = self.state();
        if s.generation == generation {
            let _ = self
                .changed
                .wait_timeout_while(s, at_most, |s| s.generation == generation);
        }
    }

    fn generation(&self) -> u64 {
        self.state().generation
    }
}

fn cancel(py: Python<'_>, task: &Py<PyAny>) {
    if let Err(e) = task.bind(py).call_method0("cancel") {
        e.write_unraisable(py, Some(task.bind(py)));
    }
}

/// One term of this candidate's leadership, handed to the function that
/// `run_while_leader` runs. Like a ``threading.Event`` that is set when the
/// term ends: ``is_set()``, ``wait(timeout)``.
#[pyclass(frozen, module = "redlead._redlead", name = "Term")]
pub struct Term {
    term: u64,
    election: Arc<Election>,
    watch: Arc<TermWatch>,
}

impl Term {
    fn ended(&self) -> bool {
        self.election.term() != Some(self.term) || self.watch.reason_of(self.term).is_some()
    }
}

#[pymethods]
impl Term {
    /// The term number (the lease's fencing token): pass it to the storage
    /// you write to, so that it refuses a deposed leader's late writes.
    #[getter]
    fn term(&self) -> u64 {
        self.term
    }

    /// True once this term ended (or passed its step-down point): stop
    /// acting as leader.
    fn is_set(&self) -> bool {
        self.ended()
    }

    /// Waits until the term ends, at most ``timeout`` seconds (float or
    /// timedelta; None: no limit); returns ``is_set()``. Releases the GIL.
    #[pyo3(signature = (timeout=None))]
    fn wait(&self, py: Python<'_>, timeout: Option<&Bound<'_, PyAny>>) -> PyResult<bool> {
        let deadline = duration(py, &TIMEOUT, timeout, None)?.map(|d| Instant::now() + d);
        loop {
            let generation = self.watch.generation();
            if self.ended() {
                return Ok(true);
            }
            let step = match deadline {
                Some(d) => match d.checked_duration_since(Instant::now()) {
                    Some(left) if !left.is_zero() => left.min(POLL),
                    _ => return Ok(false),
                },
                None => POLL,
            };
            py.detach(|| self.watch.wait_change(generation, step));
            py.check_signals()?;
        }
    }

    /// Why the term ended, once the election's event said so; else None.
    #[getter]
    fn reason<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        self.watch
            .reason_of(self.term)
            .map(|r| crate::revoke_reason::to_py(py, r))
            .transpose()
    }

    /// ``reason``, waiting up to ``timeout`` seconds for the event to say it.
    fn _reason_within<'py>(
        &self,
        py: Python<'py>,
        timeout: f64,
    ) -> PyResult<Option<Bound<'py, PyAny>>> {
        let deadline = Instant::now() + Duration::from_secs_f64(timeout.clamp(0.0, 60.0));
        loop {
            let generation = self.watch.generation();
            if let Some(r) = self.watch.reason_of(self.term) {
                return crate::revoke_reason::to_py(py, r).map(Some);
            }
            let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                return Ok(None);
            };
            py.detach(|| self.watch.wait_change(generation, left.min(POLL)));
            py.check_signals()?;
        }
    }

    /// Cancels the asyncio ``task`` (on the running loop) when this term
    /// ends; at once if it already has.
    fn _cancel_on_end(&self, py: Python<'_>, task: Bound<'_, PyAny>) -> PyResult<()> {
        let event_loop = py.import("asyncio")?.call_method0("get_running_loop")?;
        let pending = pending_for(py, &event_loop)?;
        let mut s = self.watch.state();
        let ended = s.closed || self.ended_locked(&s);
        if ended {
            drop(s);
            task.call_method0("cancel")?;
        } else {
            s.cancels.push((self.term, pending, task.unbind()));
        }
        Ok(())
    }

    fn __repr__(&self) -> String {
        format!(
            "<redlead.Term term={} ended={}>",
            self.term,
            self.election.term() != Some(self.term)
        )
    }
}

impl Term {
    fn ended_locked(&self, s: &WatchState) -> bool {
        self.election.term() != Some(self.term) || s.ended.iter().any(|(t, _)| *t == self.term)
    }
}

fn closed_err(py: Python<'_>) -> PyErr {
    new_err(
        py,
        redlead::ErrorKind::Closed,
        "election stopped before this candidate was elected",
    )
}

/// Blocks (without the GIL, honouring Ctrl-C) until this candidate leads;
/// raises Closed once the election is stopped.
pub fn wait_elected(
    py: Python<'_>,
    election: &Arc<Election>,
    watch: &Arc<TermWatch>,
) -> PyResult<Term> {
    loop {
        let generation = watch.generation();
        if let Some(term) = election.term() {
            return Ok(Term {
                term,
                election: election.clone(),
                watch: watch.clone(),
            });
        }
        if watch.state().closed {
            return Err(closed_err(py));
        }
        py.detach(|| watch.wait_change(generation, POLL * 4));
        py.check_signals()?;
    }
}

/// An asyncio future of the running loop that completes with the Term once
/// this candidate leads, or fails with Closed once the election is stopped.
pub fn elected_async<'py>(
    py: Python<'py>,
    election: &Arc<Election>,
    watch: &Arc<TermWatch>,
) -> PyResult<Bound<'py, PyAny>> {
    let event_loop = py.import("asyncio")?.call_method0("get_running_loop")?;
    let fut = event_loop.call_method0("create_future")?;
    let term_of = {
        let (election, watch) = (election.clone(), watch.clone());
        move |term| Term {
            term,
            election,
            watch,
        }
    };
    let mut s = watch.state();
    // Under the lock: an Elected event is either seen here through the
    // core's state (published before the event is sent) or after the
    // waiter is registered.
    if let Some(term) = election.term() {
        drop(s);
        fut.call_method1("set_result", (term_of(term),))?;
    } else if s.closed {
        drop(s);
        fut.call_method1("set_exception", (closed_err(py).into_value(py),))?;
    } else {
        let pending = pending_for(py, &event_loop)?;
        let pf = fut.clone().unbind();
        s.elected_waiters.push(Box::new(move |term| {
            pending.push(Box::new(move |py| {
                let pf = pf.bind(py);
                if pf
                    .call_method0("done")
                    .is_ok_and(|d| d.is_truthy().unwrap_or(true))
                {
                    return;
                }
                let r = match term {
                    Some(t) => Py::new(py, term_of(t))
                        .and_then(|t| pf.call_method1("set_result", (t,)).map(drop)),
                    None => pf
                        .call_method1("set_exception", (closed_err(py).into_value(py),))
                        .map(drop),
                };
                if let Err(e) = r {
                    e.write_unraisable(py, Some(pf));
                }
            }));
        }));
    }
    Ok(fut)
}
