//! An election's Python callbacks and where they run.
//!
//! The core runs the handler on the election's own `redlead-events` thread,
//! in order, never on the renewal path. From there a callback is either
//! called on that thread with the GIL (an election made outside any event
//! loop), or queued to the event loop that was running when the election
//! was made, through the same completion queue as the asyncio futures
//! (`asyncio.rs`): callbacks and completions reach the loop in the order
//! they happened, so an `await election.stop_async()` returns after the
//! callbacks of the events before it ran. A callback on a loop may be
//! `async def`: its coroutine runs as a task of that loop.
//!
//! An exception in a callback (or its task) goes to `sys.unraisablehook`;
//! the election goes on.

use std::sync::Arc;

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PySet, PyTuple};
use redlead::ElectionEvent;

use crate::asyncio::{pending_for, Pending};
use crate::runtime::with_python;

/// The loop an election's callbacks run on.
struct EventLoop {
    event_loop: Py<PyAny>,
    pending: Arc<Pending>,
    /// Tasks of `async def` callbacks still running (the loop keeps only
    /// weak references to its tasks).
    tasks: Py<PySet>,
}

pub struct Callbacks {
    on_elected: Option<Py<PyAny>>,
    on_revoked: Option<Py<PyAny>>,
    on_leader_change: Option<Py<PyAny>>,
    event_loop: Option<Arc<EventLoop>>,
}

fn callable(name: &str, v: Option<Bound<'_, PyAny>>) -> PyResult<Option<Py<PyAny>>> {
    match v {
        None => Ok(None),
        Some(v) if v.is_none() => Ok(None),
        Some(v) if v.is_callable() => Ok(Some(v.unbind())),
        Some(v) => Err(PyTypeError::new_err(format!(
            "{name} must be callable or None, not {}",
            v.get_type().name()?
        ))),
    }
}

/// The running event loop of this thread, if any.
fn running_loop<'py>(py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
    match py.import("asyncio")?.call_method0("get_running_loop") {
        Ok(l) => Ok(Some(l)),
        Err(e) if e.is_instance_of::<pyo3::exceptions::PyRuntimeError>(py) => Ok(None),
        Err(e) => Err(e),
    }
}

impl Callbacks {
    /// Checks the callbacks and binds them to the running loop, if any.
    pub fn new(
        py: Python<'_>,
        on_elected: Option<Bound<'_, PyAny>>,
        on_revoked: Option<Bound<'_, PyAny>>,
        on_leader_change: Option<Bound<'_, PyAny>>,
    ) -> PyResult<Callbacks> {
        let callbacks = [
            ("on_elected", callable("on_elected", on_elected)?),
            ("on_revoked", callable("on_revoked", on_revoked)?),
            (
                "on_leader_change",
                callable("on_leader_change", on_leader_change)?,
            ),
        ];
        let event_loop = match running_loop(py)? {
            Some(l) => Some(Arc::new(EventLoop {
                pending: pending_for(py, &l)?,
                event_loop: l.unbind(),
                tasks: PySet::empty(py)?.unbind(),
            })),
            None => {
                let is_coroutine_function = py.import("inspect")?.getattr("iscoroutinefunction")?;
                for (name, cb) in &callbacks {
                    if let Some(cb) = cb {
                        if is_coroutine_function.call1((cb,))?.is_truthy()? {
                            return Err(PyTypeError::new_err(format!(
                                "{name} is an async function: start the election from a coroutine \
                                 (elect_async, or elect inside a running event loop) so that it \
                                 can run on that loop"
                            )));
                        }
                    }
                }
                None
            }
        };
        let [(_, on_elected), (_, on_revoked), (_, on_leader_change)] = callbacks;
        Ok(Callbacks {
            on_elected,
            on_revoked,
            on_leader_change,
            event_loop,
        })
    }

    /// On the event thread: calls the callback of `ev`, here or on the loop.
    pub fn deliver(&self, ev: &ElectionEvent) {
        let cb = match ev {
            ElectionEvent::Elected { .. } => &self.on_elected,
            ElectionEvent::Revoked { .. } => &self.on_revoked,
            ElectionEvent::LeaderChanged { .. } => &self.on_leader_change,
        };
        let Some(cb) = cb else { return };
        with_python(|py| {
            let args = match args_of(py, ev) {
                Ok(a) => a,
                Err(e) => return e.write_unraisable(py, Some(cb.bind(py))),
            };
            match &self.event_loop {
                Some(l) if loop_is_open(py, l) => {
                    let (cb, args, l2) = (cb.clone_ref(py), args.unbind(), l.clone());
                    l.pending.push(Box::new(move |py| {
                        call_on_loop(py, &l2, &cb, args.bind(py))
                    }));
                }
                // No loop, or it closed before the election was stopped:
                // here, as for an election made outside a loop.
                _ => {
                    if let Err(e) = cb.bind(py).call1(args) {
                        e.write_unraisable(py, Some(cb.bind(py)));
                    }
                }
            }
        });
    }
}

fn loop_is_open(py: Python<'_>, l: &EventLoop) -> bool {
    l.event_loop
        .bind(py)
        .call_method0("is_closed")
        .and_then(|c| c.is_truthy())
        .is_ok_and(|closed| !closed)
}

fn args_of<'py>(py: Python<'py>, ev: &ElectionEvent) -> PyResult<Bound<'py, PyTuple>> {
    match ev {
        ElectionEvent::Elected { term, .. } => (*term,).into_pyobject(py),
        ElectionEvent::Revoked { term, reason, .. } => {
            (*term, crate::revoke_reason::to_py(py, *reason)?).into_pyobject(py)
        }
        ElectionEvent::LeaderChanged { leader } => (leader.clone(),).into_pyobject(py),
    }
}

/// On the loop's thread: calls `cb`; a coroutine it returns runs as a task.
fn call_on_loop(py: Python<'_>, l: &EventLoop, cb: &Py<PyAny>, args: &Bound<'_, PyTuple>) {
    let cb = cb.bind(py);
    let r = cb.call1(args).and_then(|out| {
        let asyncio = py.import("asyncio")?;
        if !asyncio.call_method1("iscoroutine", (&out,))?.is_truthy()? {
            return Ok(());
        }
        let task = l.event_loop.bind(py).call_method1("create_task", (out,))?;
        l.tasks.bind(py).add(&task)?;
        task.call_method1(
            "add_done_callback",
            (TaskDone {
                tasks: l.tasks.clone_ref(py),
                callback: cb.clone().unbind(),
            },),
        )?;
        Ok(())
    });
    if let Err(e) = r {
        e.write_unraisable(py, Some(cb));
    }
}

/// Done-callback of an `async def` callback's task: forgets the task and
/// reports its exception.
#[pyclass(frozen)]
struct TaskDone {
    tasks: Py<PySet>,
    callback: Py<PyAny>,
}

#[pymethods]
impl TaskDone {
    fn __call__(&self, py: Python<'_>, task: &Bound<'_, PyAny>) -> PyResult<()> {
        self.tasks.bind(py).discard(task)?;
        if task.call_method0("cancelled")?.is_truthy()? {
            return Ok(());
        }
        let exc = task.call_method0("exception")?;
        if !exc.is_none() {
            PyErr::from_value(exc).write_unraisable(py, Some(self.callback.bind(py)));
        }
        Ok(())
    }
}
