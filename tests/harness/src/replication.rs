//! Holding writes back from a replica, to show what asynchronous
//! replication loses when its master dies.
//!
//! A master sends each write to its replicas after acknowledging it to the
//! client. To catch a write acknowledged but not yet replicated, reliably:
//! freeze the replica (SIGSTOP), then write a filler value larger than the
//! kernel's socket buffers can hold between them. The master's output buffer
//! for the replica then holds the rest of the filler, and every write after
//! it waits behind it. Killing the master now loses those writes, as a crash
//! a millisecond after the acknowledgement would. (Redis shows no count of
//! unsent bytes: a replica's `omem` in `CLIENT LIST` is the shared
//! replication buffer it refers to, sent or not. The tests show the loss
//! where it matters: the promoted replica lacks the writes.)

use crate::Node;

/// Larger than the loopback socket buffers of both ends together (a few MB),
/// far below the replica output buffer limit (64 MB soft by default).
const FILLER_BYTES: usize = 24 << 20;

/// Freezes `replica` and writes the filler under `filler_key` on `master`
/// (in a cluster, give the key the same hash tag as the keys to hold back).
/// Writes to `master` from now on stay unsent until the replica is thawed.
pub fn hold_back(master: &Node, replica: &mut Node, filler_key: &str) {
    replica.freeze();
    let filler = "x".repeat(FILLER_BYTES);
    let reply = master.command(&["SET", filler_key, &filler]);
    assert_eq!(reply.as_deref(), Some("+OK"), "filler SET");
    println!(
        "replication held back: replica frozen, {} MB filler written to the master",
        FILLER_BYTES >> 20
    );
}

/// Bytes of the master's replication stream that its replicas have not
/// acknowledged (`master_repl_offset` minus the lowest replica offset in
/// `INFO replication`; replicas acknowledge once a second). Zero means
/// every replica has every write the master acknowledged.
pub fn unacknowledged_bytes(master: &Node) -> u64 {
    let info = master.command(&["INFO", "replication"]).unwrap_or_default();
    let offset = info
        .lines()
        .find_map(|l| l.strip_prefix("master_repl_offset:"))
        .and_then(|v| v.trim().parse::<u64>().ok())
        .expect("master_repl_offset in INFO replication");
    let acked = info
        .lines()
        .filter(|l| l.starts_with("slave") && l.contains("offset="))
        .filter_map(|l| l.split(',').find_map(|f| f.strip_prefix("offset=")))
        .filter_map(|v| v.trim().parse::<u64>().ok())
        .min()
        .expect("a replica in INFO replication");
    offset.saturating_sub(acked)
}
