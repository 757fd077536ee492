//! The Lua scripts. Each runs atomically on one node (Redis runs a script to
//! completion before any other command), which is what makes "check the token,
//! then act" safe against a concurrent owner on that node.
//!
//! They run by hash (`EVALSHA`) and are loaded on `NOSCRIPT`, as
//! `redis::Script` does, but without trusting the server's answer to
//! `SCRIPT LOAD`: redis-rs `debug_assert`s that the server hashed the script
//! as we did, so a broken or hostile server panicked debug builds (found by
//! core/tests/hostile.rs); here another hash is an error like any bad reply.

use std::sync::LazyLock;

use redis::aio::ConnectionLike;
use redis::{Cmd, FromRedisValue, RedisError, RedisResult};

/// A Lua script with one key, run by its SHA1.
pub struct Script {
    code: &'static str,
    hash: String,
}

impl Script {
    fn new(code: &'static str) -> Script {
        Script {
            code,
            hash: redis::Script::new(code).get_hash().to_string(),
        }
    }

    /// The Lua source (benchmarks send it over raw sockets).
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// `EVALSHA <hash> 1 <key>`; the caller adds the arguments (ARGV).
    pub fn call(&self, key: &str) -> Cmd {
        let mut cmd = redis::cmd("EVALSHA");
        cmd.arg(&self.hash).arg(1).arg(key);
        cmd
    }

    /// Runs `call` (made by [`Script::call`]); on `NOSCRIPT`, loads the
    /// script and runs it once more.
    pub async fn run<T: FromRedisValue>(
        &self,
        call: &Cmd,
        conn: &mut impl ConnectionLike,
    ) -> RedisResult<T> {
        match call.query_async(conn).await {
            Err(e) if e.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::NoScript) => {
                self.load(conn).await?;
                call.query_async(conn).await
            }
            other => other,
        }
    }

    /// `SCRIPT LOAD`; an error when the server answers another hash.
    pub async fn load(&self, conn: &mut impl ConnectionLike) -> RedisResult<()> {
        let hash: String = redis::cmd("SCRIPT")
            .arg("LOAD")
            .arg(self.code)
            .query_async(conn)
            .await?;
        if hash != self.hash {
            return Err(RedisError::from((
                redis::ErrorKind::UnexpectedReturnType,
                "SCRIPT LOAD answered another hash",
                format!("{hash:?}, expected {}", self.hash),
            )));
        }
        Ok(())
    }
}

/// Compare-and-delete: removes the key only while it holds this lock's value.
/// Returns 1 when deleted, 0 otherwise. The same contract as redsync's and
/// node-redlock's release, so mixed fleets interoperate.
///
/// With ARGV[2] (a channel) and ARGV[3] (a message), it also publishes the
/// message once the key is free on this node: deleted by this call, or
/// already absent; never while another holder's value is there. Inside the
/// script, so the release announcement (waiters woken, followers taking
/// over) costs no round trip of its own, and whoever hears it from a node
/// finds the key gone there.
pub static RELEASE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"local held = redis.call('GET', KEYS[1])
local deleted = 0
if held == ARGV[1] then
    deleted = redis.call('DEL', KEYS[1])
end
if ARGV[2] and (deleted == 1 or not held) then
    redis.call('PUBLISH', ARGV[2], ARGV[3])
end
return deleted",
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

/// The member of the fencing sorted set whose score is the counter. A sorted
/// set rather than a string because `ZADD key GT score member` is an atomic
/// "raise to at least", with no script.
pub const FENCE_MEMBER: &str = "counter";

/// `ZADD GT` for servers older than Redis 6.2: raises the counter to ARGV[1]
/// unless it is already higher. Always returns 1.
pub static RAISE_FENCE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"local current = tonumber(redis.call('ZSCORE', KEYS[1], 'counter') or '0')
if tonumber(ARGV[1]) > current then
    redis.call('ZADD', KEYS[1], ARGV[1], 'counter')
end
return 1",
    )
});
