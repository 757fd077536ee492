//! The runtime a foreign-language binding serves its callers from: one
//! current-thread tokio runtime on a dedicated thread, owning the clients'
//! connections and every background task (renewals, repairs, elections).
//!
//! Why not a multi-thread runtime driven by `block_on` from each caller: then
//! the caller's thread polls the operation while the connections' tasks run
//! on workers, so every node's reply crosses threads (a wake-up each), and
//! the workers hand tasks to each other. Here everything that touches the
//! network runs on one thread; a blocking call costs two hand-offs (the
//! caller wakes the I/O thread, the result wakes the caller), measured at
//! the current-thread Rust API's figure (docs/performance.md).

use tokio::runtime::{Builder, Handle};

/// Starts a current-thread runtime on a new thread named `name` and returns
/// its handle. The thread drives the runtime for the life of the process
/// (bindings keep one for the whole process, and a runtime dropped while
/// clients still hold its handle would fail their calls).
///
/// Callers use the handle to create clients (`Handle::enter` before
/// `Redlock::new`), to spawn, and to block: `Handle::block_on` from a thread
/// outside any runtime parks that thread while the I/O thread does the work.
/// Code running on the I/O thread must never block it.
pub fn start_io_thread(name: &str) -> std::io::Result<Handle> {
    let rt = Builder::new_current_thread().enable_all().build()?;
    let handle = rt.handle().clone();
    std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || rt.block_on(std::future::pending::<()>()))?;
    Ok(handle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn work_spawned_from_another_thread_runs_on_the_io_thread() {
        let handle = start_io_thread("redlead-io-test").unwrap();
        let name = handle
            .block_on(handle.spawn(async {
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                std::thread::current().name().map(str::to_owned)
            }))
            .unwrap();
        assert_eq!(name.as_deref(), Some("redlead-io-test"));
        // A timer made inside block_on on this thread is driven by the I/O
        // thread (this thread only parks).
        let t = std::time::Instant::now();
        handle.block_on(async { tokio::time::sleep(std::time::Duration::from_millis(20)).await });
        assert!(t.elapsed() >= std::time::Duration::from_millis(20));
    }
}
