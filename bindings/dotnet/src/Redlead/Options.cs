using System;

namespace Redlead
{
    /// <summary>
    /// Settings of a <see cref="RedleadClient"/>. A property left null keeps
    /// the library's default; the library validates each value and names the
    /// field in its message (<see cref="InvalidArgumentException"/>).
    /// </summary>
    public sealed class RedleadClientOptions
    {
        /// <summary>How long one node may take to answer one command (default 50 ms; far below any ttl).</summary>
        public TimeSpan? NodeTimeout { get; set; }

        /// <summary>Timeout of one connection attempt to a node (default 500 ms).</summary>
        public TimeSpan? ConnectTimeout { get; set; }

        /// <summary>Clock drift allowance as a fraction of the ttl, in [0, 0.5) (default 0.01).</summary>
        public double? DriftFactor { get; set; }

        /// <summary>Most attempts of a waiting acquire; 0 means no limit other than the wait (default).</summary>
        public int? RetryCount { get; set; }

        /// <summary>Base delay between two attempts of a waiting acquire (default 200 ms).</summary>
        public TimeSpan? RetryDelay { get; set; }

        /// <summary>Random extra delay, uniform in [0, jitter], added to each retry (default 100 ms).</summary>
        public TimeSpan? RetryJitter { get; set; }

        /// <summary>Prefix of every Redis key (default "redlead:").</summary>
        public string KeyPrefix { get; set; }

        /// <summary>True (default): keys are <c>prefix{resource}</c> (one Redis Cluster slot);
        /// false: <c>prefix + resource</c>, as other Redlock libraries.</summary>
        public bool? KeyHashTag { get; set; }

        /// <summary>PEM of a private CA to trust for <c>rediss://</c> nodes instead of the public roots.</summary>
        public string TlsRootCaPem { get; set; }

        /// <summary>PEM client certificate for <c>rediss://</c> nodes that require one (with <see cref="TlsClientKeyPem"/>).</summary>
        public string TlsClientCertPem { get; set; }

        /// <summary>PEM key of <see cref="TlsClientCertPem"/>.</summary>
        public string TlsClientKeyPem { get; set; }

        /// <summary>Worker threads of the process-wide runtime (default 2); only before the first client is made.</summary>
        public int? RuntimeThreads { get; set; }
    }

    /// <summary>Options of one acquisition.</summary>
    public sealed class LockOptions
    {
        /// <summary>Also obtain a fencing token (one more round trip); see <see cref="RedleadLock.FencingToken"/>.</summary>
        public bool Fenced { get; set; }

        /// <summary>A label stored with the lock, so that anyone can ask who holds the resource
        /// (<see cref="RedleadClient.Holder"/>). UTF-8, 1..256 bytes.</summary>
        public string Owner { get; set; }

        /// <summary>Keep the lock extended in the background, with a cap; null (default): no auto-extension.</summary>
        public AutoExtendOptions AutoExtend { get; set; }
    }

    /// <summary>
    /// Auto-extension with a cap (Redlock's liveness rule: a holder must not
    /// extend forever). At least one of <see cref="MaxHold"/> and
    /// <see cref="MaxExtensions"/> is required. When the cap is reached or an
    /// extension fails, <see cref="RedleadLock.Lost"/> is cancelled before the
    /// validity ends.
    /// </summary>
    public sealed class AutoExtendOptions
    {
        /// <summary>Stop extending once the lock was held this long (zero: no such cap).</summary>
        public TimeSpan MaxHold { get; set; }

        /// <summary>Stop after this many extensions (0: no such cap).</summary>
        public int MaxExtensions { get; set; }

        /// <summary>Time between extensions (zero: ttl / 3).</summary>
        public TimeSpan Interval { get; set; }
    }

    /// <summary>
    /// Settings of a <see cref="RedleadElection"/>. Null keeps the library's
    /// default (scaled to the ttl, 5 s by default).
    /// </summary>
    public sealed class ElectionOptions
    {
        /// <summary>Lifetime of the leader's lock: how long a crashed leader blocks a new election.</summary>
        public TimeSpan? Ttl { get; set; }

        /// <summary>How often the leader renews its lock (default ttl / 3).</summary>
        public TimeSpan? RenewInterval { get; set; }

        /// <summary>How often a follower tries to become leader.</summary>
        public TimeSpan? RetryInterval { get; set; }

        /// <summary>Random extra delay added to each of a follower's attempts (default ttl / 50).</summary>
        public TimeSpan? RetryJitter { get; set; }

        /// <summary>How long before the lock's validity ends a leader that could not renew steps down.</summary>
        public TimeSpan? StepDownMargin { get; set; }

        /// <summary>How long <see cref="RedleadElection.Dispose"/> waits for an event handler still running (default 5 s).</summary>
        public TimeSpan? StopTimeout { get; set; }
    }
}
