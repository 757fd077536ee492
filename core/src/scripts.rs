//! The Lua scripts. Each runs atomically on one node (Redis runs a script to
//! completion before any other command), which is what makes "check the token,
//! then act" safe against a concurrent owner on that node.

use std::sync::LazyLock;

use redis::Script;

/// Compare-and-delete: removes the key only while it holds this lock's value.
/// Returns 1 when deleted, 0 otherwise. The same contract as redsync's and
/// node-redlock's release, so mixed fleets interoperate.
pub static RELEASE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('DEL', KEYS[1])
end
return 0",
    )
});

/// Compare-and-expire: sets a new ttl only while the key holds this lock's
/// value. PEXPIRE never creates a key, so an expired lock stays expired.
/// Returns 1 when extended, 0 otherwise.
pub static EXTEND: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0",
    )
});

/// Fenced acquire, round 1: SET NX PX and read the fencing counter in the same
/// atomic step, so the counter read belongs to the moment the key was taken.
/// Returns {1, counter} when set, {0, holder value} when held by another.
pub static ACQUIRE_FENCED: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"local holder = redis.call('GET', KEYS[1])
if holder then
    return {0, holder}
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return {1, redis.call('GET', KEYS[2]) or '0'}",
    )
});

/// Fenced acquire, round 2: raise the counter to the new token, but only while
/// the key still holds this lock's value, so a holder whose key expired on a
/// node cannot move that node's counter. The counter never goes down.
/// Returns 1 when the key was still ours (counter now >= token), 0 otherwise.
pub static RAISE_FENCE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"if redis.call('GET', KEYS[1]) ~= ARGV[1] then
    return 0
end
local current = tonumber(redis.call('GET', KEYS[2]) or '0')
if tonumber(ARGV[2]) > current then
    redis.call('SET', KEYS[2], ARGV[2])
end
return 1",
    )
});
