//! Randomness that survives `fork()`.
//!
//! A user-space RNG (rand's `ThreadRng`) is copied into a forked child with
//! its state: parent and child, or two children of one parent, would draw the
//! same lock values and the same retry jitter. Prefork servers (gunicorn,
//! uWSGI, Celery) fork exactly like that, and two processes with one lock value
//! can delete each other's keys. Every draw here asks the kernel
//! (`getrandom(2)` through `OsRng`), which has no state in the process.

use std::time::Duration;

use rand::rngs::OsRng;
use rand::{Rng, TryRngCore};

use crate::error::{Error, Result};

/// 128 random bits, the makings of a lock token (`lock_value`): enough that
/// no two acquisitions, in any process, ever draw the same.
pub(crate) fn u128() -> Result<u128> {
    let mut bytes = [0u8; 16];
    OsRng
        .try_fill_bytes(&mut bytes)
        .map_err(|e| Error::Internal(format!("the OS random source failed: {e}")))?;
    Ok(u128::from_le_bytes(bytes))
}

/// Uniform in [0, max]. Zero when the OS random source fails: jitter only
/// spreads retries, it guards no invariant.
pub(crate) fn jitter(max: Duration) -> Duration {
    if max.is_zero() {
        return Duration::ZERO;
    }
    let mut rng = OsRng.unwrap_err();
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        rng.random_range(Duration::ZERO..=max)
    })) {
        Ok(d) => d,
        Err(_) => Duration::ZERO,
    }
}

/// Uniform in [lo, hi].
pub(crate) fn between(lo: Duration, hi: Duration) -> Duration {
    lo + jitter(hi.saturating_sub(lo))
}

/// Uniform in [0, n) (0 for n <= 1, or when the OS random source fails: a
/// starting point to spread contenders, not an invariant).
pub(crate) fn below(n: u32) -> u32 {
    if n <= 1 {
        return 0;
    }
    let mut bytes = [0u8; 4];
    match OsRng.try_fill_bytes(&mut bytes) {
        Ok(()) => u32::from_le_bytes(bytes) % n,
        Err(_) => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_of_128_bits_are_distinct() {
        assert_ne!(u128().unwrap(), u128().unwrap());
    }

    #[test]
    fn jitter_stays_in_range() {
        let max = Duration::from_millis(7);
        for _ in 0..200 {
            assert!(jitter(max) <= max);
        }
        assert_eq!(jitter(Duration::ZERO), Duration::ZERO);
        let d = between(Duration::from_millis(3), Duration::from_millis(5));
        assert!(d >= Duration::from_millis(3) && d <= Duration::from_millis(5));
    }

    /// The hole this module closes: a child forked after the parent drew
    /// from the RNG must not draw what the parent draws next. With rand's
    /// ThreadRng both sides continue from one copied state and this fails.
    #[test]
    fn forked_children_draw_different_tokens_than_the_parent() {
        let _warm = u128().unwrap();
        let mut tokens_of_children = Vec::new();
        for _ in 0..2 {
            let mut fds = [0i32; 2];
            // SAFETY: pipe/fork/_exit as in any C program; the child only
            // computes a token, writes it and exits without unwinding.
            unsafe {
                assert_eq!(libc::pipe(fds.as_mut_ptr()), 0);
                let pid = libc::fork();
                assert!(pid >= 0, "fork failed");
                if pid == 0 {
                    let t = u128().unwrap_or_default().to_le_bytes();
                    libc::write(fds[1], t.as_ptr().cast(), t.len());
                    libc::_exit(0);
                }
                libc::close(fds[1]);
                let mut buf = [0u8; 16];
                let mut got = 0;
                while got < buf.len() {
                    let n = libc::read(fds[0], buf[got..].as_mut_ptr().cast(), buf.len() - got);
                    assert!(n > 0, "child wrote no token");
                    got += n as usize;
                }
                libc::close(fds[0]);
                let mut status = 0;
                libc::waitpid(pid, &mut status, 0);
                tokens_of_children.push(u128::from_le_bytes(buf));
            }
        }
        let parent_next = u128().unwrap();
        println!("children drew {tokens_of_children:x?}, the parent {parent_next:x}");
        assert_ne!(tokens_of_children[0], tokens_of_children[1]);
        assert!(!tokens_of_children.contains(&parent_next));
    }
}
