using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;
using System.Threading;
using System.Threading.Tasks;

namespace Redlead
{
    /// <summary>Who holds a resource, as a quorum of nodes sees it.</summary>
    public sealed class LockHolder
    {
        internal LockHolder(bool isHeld, string owner)
        {
            IsHeld = isHeld;
            Owner = owner;
        }

        /// <summary>True when a quorum of nodes agrees on one holder.</summary>
        public bool IsHeld { get; private set; }

        /// <summary>The holder's <see cref="LockOptions.Owner"/> label; null when nobody holds it or no label was set.</summary>
        public string Owner { get; private set; }
    }

    /// <summary>
    /// A Redlock client over N independent Redis masters (<c>redlead_client</c>).
    /// Thread-safe: use one per process for all resources. Connections are made
    /// lazily, so a node that is down now does not fail the constructor.
    /// Locks and elections made from it stay usable after it is disposed.
    /// </summary>
    /// <example>
    /// <code>
    /// using (var client = new RedleadClient(new[] { "redis://10.0.0.1:6379", "redis://10.0.0.2:6379", "redis://10.0.0.3:6379" }))
    /// using (var l = await client.AcquireAsync("jobs", TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(2),
    ///                                          new LockOptions { Fenced = true }, ct))
    /// {
    ///     Work(l.FencingToken, l.Lost);   // stop when l.Lost is cancelled
    /// }                                    // released here
    /// </code>
    /// </example>
    public sealed class RedleadClient : IDisposable
    {
        /// <summary>The <c>REDLEAD_ABI_VERSION</c> this binding was written against.</summary>
        public const uint AbiVersion = 1;

        /// <summary>SafeHandle of <c>redlead_client</c>.</summary>
        internal sealed class Handle : NativeHandle
        {
            protected override bool ReleaseHandle()
            {
                Native.redlead_client_free(handle);
                return true;
            }
        }

        /// <summary>SafeHandle of <c>redlead_config</c>.</summary>
        internal sealed class ConfigHandle : NativeHandle
        {
            protected override bool ReleaseHandle()
            {
                Native.redlead_config_free(handle);
                return true;
            }
        }

        /// <summary>SafeHandle of <c>redlead_lock_options</c>.</summary>
        internal sealed class LockOptionsHandle : NativeHandle
        {
            protected override bool ReleaseHandle()
            {
                Native.redlead_lock_options_free(handle);
                return true;
            }
        }

        /// <summary>SafeHandle of <c>redlead_outcomes</c>.</summary>
        internal sealed class OutcomesHandle : NativeHandle
        {
            protected override bool ReleaseHandle()
            {
                Native.redlead_outcomes_free(handle);
                return true;
            }
        }

        private static class Native
        {
            [DllImport("redlead", CallingConvention = CallingConvention.Cdecl)]
            internal static extern IntPtr redlead_version();

            [DllImport("redlead", CallingConvention = CallingConvention.Cdecl)]
            internal static extern uint redlead_abi_version();

            [DllImport("redlead", CallingConvention = CallingConvention.Cdecl)]
            internal static extern RedleadStatus redlead_client_new(IntPtr[] nodeUrls, UIntPtr nodeCount,
                ConfigHandle config, out Handle client, out ErrorReader.Handle error);

            [DllImport("redlead", CallingConvention = CallingConvention.Cdecl, EntryPoint = "redlead_client_new")]
            internal static extern RedleadStatus redlead_client_new_default(IntPtr[] nodeUrls, UIntPtr nodeCount,
                IntPtr config, out Handle client, out ErrorReader.Handle error);

            [DllImport("redlead", CallingConvention = CallingConvention.Cdecl)]
            internal static extern void redlead_client_free(IntPtr client);

            [DllImport("redlead", CallingConvention = CallingConvention.Cdecl)]
            internal static extern RedleadStatus redlead_client_holder(Handle client, byte[] resource,
                [MarshalAs(UnmanagedType.I1)] out bool held, out IntPtr owner, out ErrorReader.Handle error);

            [DllImport("redlead", CallingConvention = CallingConvention.Cdecl)]
            internal static extern void redlead_string_free(IntPtr s);

            [DllImport("redlead", CallingConvention = CallingConvention.Cdecl)]
            internal static extern RedleadStatus redlead_client_ping(Handle client, out OutcomesHandle outcomes,
                out ErrorReader.Handle error);

            [DllImport("redlead", CallingConvention = CallingConvention.Cdecl)]
            internal static extern UIntPtr redlead_outcomes_count(OutcomesHandle outcomes);

            [DllImport("redlead", CallingConvention = CallingConvention.Cdecl)]
            internal static extern RedleadStatus redlead_outcomes_get(OutcomesHandle outcomes, UIntPtr index,
                out IntPtr node, out NodeOutcomeKind outcome, out IntPtr message, IntPtr errorOut);

            [DllImport("redlead", CallingConvention = CallingConvention.Cdecl)]
            internal static extern void redlead_outcomes_free(IntPtr outcomes);

            [DllImport("redlead", CallingConvention = CallingConvention.Cdecl)]
            internal static extern ConfigHandle redlead_config_new();

            [DllImport("redlead", CallingConvention = CallingConvention.Cdecl)]
            internal static extern void redlead_config_free(IntPtr config);

            [DllImport("redlead", CallingConvention = CallingConvention.Cdecl)]
            internal static extern RedleadStatus redlead_config_set_node_timeout_ms(ConfigHandle config, ulong ms,
                out ErrorReader.Handle error);

            [DllImport("redlead", CallingConvention = CallingConvention.Cdecl)]
            internal static extern RedleadStatus redlead_config_set_connect_timeout_ms(ConfigHandle config, ulong ms,
                out ErrorReader.Handle error);

            [DllImport("redlead", CallingConvention = CallingConvention.Cdecl)]
            internal static extern RedleadStatus redlead_config_set_drift_factor(ConfigHandle config, double factor,
                out ErrorReader.Handle error);

            [DllImport("redlead", CallingConvention = CallingConvention.Cdecl)]
            internal static extern RedleadStatus redlead_config_set_retry_count(ConfigHandle config, uint count,
                out ErrorReader.Handle error);

            [DllImport("redlead", CallingConvention = CallingConvention.Cdecl)]
            internal static extern RedleadStatus redlead_config_set_retry_delay_ms(ConfigHandle config, ulong ms,
                out ErrorReader.Handle error);

            [DllImport("redlead", CallingConvention = CallingConvention.Cdecl)]
            internal static extern RedleadStatus redlead_config_set_retry_jitter_ms(ConfigHandle config, ulong ms,
                out ErrorReader.Handle error);

            [DllImport("redlead", CallingConvention = CallingConvention.Cdecl)]
            internal static extern RedleadStatus redlead_config_set_key_prefix(ConfigHandle config, byte[] prefix,
                out ErrorReader.Handle error);

            [DllImport("redlead", CallingConvention = CallingConvention.Cdecl)]
            internal static extern RedleadStatus redlead_config_set_key_hash_tag(ConfigHandle config,
                [MarshalAs(UnmanagedType.I1)] bool hashTag, out ErrorReader.Handle error);

            [DllImport("redlead", CallingConvention = CallingConvention.Cdecl)]
            internal static extern RedleadStatus redlead_config_set_tls_root_ca_pem(ConfigHandle config, byte[] pem,
                out ErrorReader.Handle error);

            [DllImport("redlead", CallingConvention = CallingConvention.Cdecl)]
            internal static extern RedleadStatus redlead_config_set_tls_client_cert_pem(ConfigHandle config,
                byte[] certPem, byte[] keyPem, out ErrorReader.Handle error);

            [DllImport("redlead", CallingConvention = CallingConvention.Cdecl)]
            internal static extern RedleadStatus redlead_config_set_runtime_threads(ConfigHandle config, uint threads,
                out ErrorReader.Handle error);

            [DllImport("redlead", CallingConvention = CallingConvention.Cdecl)]
            internal static extern LockOptionsHandle redlead_lock_options_new();

            [DllImport("redlead", CallingConvention = CallingConvention.Cdecl)]
            internal static extern void redlead_lock_options_free(IntPtr options);

            [DllImport("redlead", CallingConvention = CallingConvention.Cdecl)]
            internal static extern RedleadStatus redlead_lock_options_set_fenced(LockOptionsHandle options,
                [MarshalAs(UnmanagedType.I1)] bool fenced, out ErrorReader.Handle error);

            [DllImport("redlead", CallingConvention = CallingConvention.Cdecl)]
            internal static extern RedleadStatus redlead_lock_options_set_owner(LockOptionsHandle options,
                byte[] owner, out ErrorReader.Handle error);

            [DllImport("redlead", CallingConvention = CallingConvention.Cdecl)]
            internal static extern RedleadStatus redlead_lock_options_set_auto_extend(LockOptionsHandle options,
                ulong maxHoldMs, uint maxExtensions, ulong intervalMs, out ErrorReader.Handle error);

            [DllImport("redlead", CallingConvention = CallingConvention.Cdecl)]
            internal static extern RedleadStatus redlead_lock_acquire_with(Handle client, byte[] resource,
                ulong ttlMs, ulong waitMs, LockOptionsHandle options, CancelSignal.Handle cancel,
                out RedleadLock.Handle lockOut, out ErrorReader.Handle error);

            [DllImport("redlead", CallingConvention = CallingConvention.Cdecl)]
            internal static extern RedleadStatus redlead_lock_acquire_async(Handle client, byte[] resource,
                ulong ttlMs, ulong waitMs, LockOptionsHandle options, CancelSignal.Handle cancel,
                NativeCompletion completion, out ErrorReader.Handle error);
        }

        private readonly Handle handle;

        /// <summary>
        /// A client over <paramref name="nodeUrls"/>
        /// (<c>redis://[user:password@]host:port[/db]</c>, <c>rediss://</c> for TLS),
        /// one per independent Redis master. Throws
        /// <see cref="InvalidArgumentException"/> for a null or empty list, a null
        /// entry, a malformed URL or a rejected option.
        /// </summary>
        public RedleadClient(IList<string> nodeUrls, RedleadClientOptions options = null)
        {
            using (ConfigHandle config = options == null ? null : BuildConfig(options))
            {
                handle = Create(nodeUrls, config);
            }
        }

        /// <summary>A client over <paramref name="nodeUrls"/> with the library's defaults.</summary>
        public RedleadClient(params string[] nodeUrls)
            : this((IList<string>)nodeUrls, null)
        {
        }

        /// <summary>The version of libredlead actually loaded, "MAJOR.MINOR.PATCH".</summary>
        public static string NativeVersion
        {
            get { return Marshalling.FromUtf8(Native.redlead_version()); }
        }

        /// <summary>The ABI version of libredlead actually loaded; must equal <see cref="AbiVersion"/>.</summary>
        public static uint NativeAbiVersion
        {
            get { return Native.redlead_abi_version(); }
        }

        /// <summary>
        /// One attempt to take the lock on <paramref name="resource"/> for
        /// <paramref name="ttl"/>; null when it is held elsewhere. Blocks for about
        /// one round trip (at most about the node timeout, one more when fenced).
        /// </summary>
        public RedleadLock TryAcquire(string resource, TimeSpan ttl, LockOptions options = null)
        {
            return AcquireCore(resource, ttl, TimeSpan.Zero, options, CancellationToken.None, false);
        }

        /// <summary>
        /// Takes the lock on <paramref name="resource"/> for <paramref name="ttl"/>,
        /// retrying with jittered delays for up to <paramref name="wait"/>. Throws
        /// <see cref="NotAcquiredException"/> (with per-node outcomes) when the wait is
        /// spent, <see cref="OperationCanceledException"/> as soon as
        /// <paramref name="cancellationToken"/> is cancelled (an attempt already sent
        /// finishes in the background and leaves no key). Blocks the calling thread.
        /// </summary>
        public RedleadLock Acquire(string resource, TimeSpan ttl, TimeSpan wait, LockOptions options = null,
            CancellationToken cancellationToken = default(CancellationToken))
        {
            return AcquireCore(resource, ttl, wait, options, cancellationToken, true);
        }

        /// <summary>
        /// <see cref="TryAcquire"/> without blocking a thread: completes with null when
        /// the lock is held elsewhere; cancelled when <paramref name="cancellationToken"/> is.
        /// </summary>
        public Task<RedleadLock> TryAcquireAsync(string resource, TimeSpan ttl, LockOptions options = null,
            CancellationToken cancellationToken = default(CancellationToken))
        {
            return AcquireCoreAsync(resource, ttl, TimeSpan.Zero, options, cancellationToken, false);
        }

        /// <summary>
        /// <see cref="Acquire"/> without blocking a thread (the library's asynchronous
        /// acquire): faults with <see cref="NotAcquiredException"/> when the wait is
        /// spent; cancelled at once when <paramref name="cancellationToken"/> is (the
        /// library's cancellation handle: a cancelled acquire leaves no key).
        /// Every failure, bad arguments included, arrives through the Task.
        /// </summary>
        public Task<RedleadLock> AcquireAsync(string resource, TimeSpan ttl, TimeSpan wait,
            LockOptions options = null, CancellationToken cancellationToken = default(CancellationToken))
        {
            return AcquireCoreAsync(resource, ttl, wait, options, cancellationToken, true);
        }

        /// <summary>Who holds <paramref name="resource"/>. Blocks for about one round trip.</summary>
        public LockHolder Holder(string resource)
        {
            byte[] r = Marshalling.Utf8(resource, "resource");
            bool held;
            IntPtr owner;
            ErrorReader.Handle error;
            RedleadStatus status = Native.redlead_client_holder(Live(), r, out held, out owner, out error);
            ErrorReader.Check(status, error);
            try
            {
                return new LockHolder(held, Marshalling.FromUtf8(owner));
            }
            finally
            {
                Native.redlead_string_free(owner);
            }
        }

        /// <summary>PINGs every node (health checks); one outcome per node, in URL order.
        /// Blocks for about one round trip.</summary>
        public IReadOnlyList<NodeOutcome> Ping()
        {
            OutcomesHandle outcomes;
            ErrorReader.Handle error;
            ErrorReader.Check(Native.redlead_client_ping(Live(), out outcomes, out error), error);
            using (outcomes)
            {
                ulong n = (ulong)Native.redlead_outcomes_count(outcomes);
                var list = new List<NodeOutcome>((int)n);
                for (ulong i = 0; i < n; i++)
                {
                    IntPtr node, message;
                    NodeOutcomeKind kind;
                    if (Native.redlead_outcomes_get(outcomes, new UIntPtr(i), out node, out kind, out message, IntPtr.Zero)
                        == RedleadStatus.Ok)
                    {
                        list.Add(new NodeOutcome(Marshalling.FromUtf8(node), kind, Marshalling.FromUtf8(message)));
                    }
                }
                return list.AsReadOnly();
            }
        }

        /// <summary>
        /// A candidate for leadership of <paramref name="resource"/> as
        /// <paramref name="candidateId"/>, not campaigning yet: subscribe to its events,
        /// then call <see cref="RedleadElection.Start"/>.
        /// </summary>
        public RedleadElection CreateElection(string resource, string candidateId, ElectionOptions options = null)
        {
            return new RedleadElection(this, resource, candidateId, options);
        }

        /// <summary>An observer of who holds <paramref name="resource"/> (not started: subscribe
        /// to <see cref="RedleadObserver.Changed"/>, then call <see cref="RedleadObserver.Start"/>).</summary>
        public RedleadObserver CreateObserver(string resource, TimeSpan? pollInterval = null)
        {
            return new RedleadObserver(this, resource, pollInterval);
        }

        /// <summary>Frees the client. Locks and elections made from it keep working. Safe to call twice.</summary>
        public void Dispose()
        {
            handle.Dispose();
        }

        internal Handle Live()
        {
            if (handle.IsClosed)
            {
                throw new ObjectDisposedException("RedleadClient");
            }
            return handle;
        }

        private RedleadLock AcquireCore(string resource, TimeSpan ttl, TimeSpan wait, LockOptions options,
            CancellationToken token, bool throwIfNotAcquired)
        {
            token.ThrowIfCancellationRequested();
            byte[] r = Marshalling.Utf8(resource, "resource");
            ulong ttlMs = Marshalling.Millis(ttl, "ttl");
            ulong waitMs = Marshalling.Millis(wait, "wait");
            using (LockOptionsHandle opts = BuildLockOptions(options))
            using (CancelSignal cancel = CancelSignal.Create(token))
            {
                cancel.Link();
                RedleadLock.Handle lockHandle;
                ErrorReader.Handle error;
                RedleadStatus status = Native.redlead_lock_acquire_with(Live(), r, ttlMs, waitMs, opts,
                    cancel.NativeHandle, out lockHandle, out error);
                if (status == RedleadStatus.Ok)
                {
                    error.Dispose();
                    return new RedleadLock(lockHandle, resource);
                }
                lockHandle.Dispose();
                if (status == RedleadStatus.NotAcquired && !throwIfNotAcquired)
                {
                    error.Dispose();
                    return null;
                }
                throw ErrorReader.ToException(status, error, token);
            }
        }

        private Task<RedleadLock> AcquireCoreAsync(string resource, TimeSpan ttl, TimeSpan wait,
            LockOptions options, CancellationToken token, bool throwIfNotAcquired)
        {
            byte[] r;
            ulong ttlMs, waitMs;
            LockOptionsHandle opts;
            Handle client;
            try
            {
                r = Marshalling.Utf8(resource, "resource");
                ttlMs = Marshalling.Millis(ttl, "ttl");
                waitMs = Marshalling.Millis(wait, "wait");
                client = Live();
                opts = BuildLockOptions(options);
            }
            catch (Exception e)
            {
                return Task.FromException<RedleadLock>(e);
            }
            using (opts)
            {
                // The library copies the options and shares what it keeps, so
                // they and the byte[] may go as soon as the call returns.
                return Completions.Run(token,
                    delegate(NativeCompletion completion, CancelSignal.Handle cancel, out ErrorReader.Handle error)
                    {
                        return Native.redlead_lock_acquire_async(client, r, ttlMs, waitMs, opts, cancel,
                            completion, out error);
                    },
                    lockHandle => new RedleadLock(lockHandle, resource),
                    !throwIfNotAcquired);
            }
        }

        private static Handle Create(IList<string> nodeUrls, ConfigHandle config)
        {
            int n = nodeUrls == null ? 0 : nodeUrls.Count;
            var pins = new GCHandle[n];
            IntPtr[] pointers = nodeUrls == null ? null : new IntPtr[n];
            try
            {
                for (int i = 0; i < n; i++)
                {
                    byte[] url = Marshalling.Utf8(nodeUrls[i], "nodeUrls[" + i + "]");
                    if (url != null)
                    {
                        pins[i] = GCHandle.Alloc(url, GCHandleType.Pinned);
                        pointers[i] = pins[i].AddrOfPinnedObject();
                    }
                }
                Handle client;
                ErrorReader.Handle error;
                RedleadStatus status = config == null
                    ? Native.redlead_client_new_default(pointers, new UIntPtr((uint)n), IntPtr.Zero, out client, out error)
                    : Native.redlead_client_new(pointers, new UIntPtr((uint)n), config, out client, out error);
                if (status != RedleadStatus.Ok)
                {
                    client.Dispose();
                }
                ErrorReader.Check(status, error);
                return client;
            }
            finally
            {
                foreach (GCHandle pin in pins)
                {
                    if (pin.IsAllocated)
                    {
                        pin.Free();
                    }
                }
            }
        }

        private static ConfigHandle BuildConfig(RedleadClientOptions o)
        {
            ConfigHandle c = Native.redlead_config_new();
            if (c.IsInvalid)
            {
                throw new RedleadInternalException(RedleadStatus.Internal,
                    "redlead_config_new returned NULL (a forked child, or a bug)", null);
            }
            try
            {
                ErrorReader.Handle e;
                if (o.NodeTimeout.HasValue)
                {
                    ErrorReader.Check(Native.redlead_config_set_node_timeout_ms(c,
                        Marshalling.Millis(o.NodeTimeout.Value, "NodeTimeout"), out e), e);
                }
                if (o.ConnectTimeout.HasValue)
                {
                    ErrorReader.Check(Native.redlead_config_set_connect_timeout_ms(c,
                        Marshalling.Millis(o.ConnectTimeout.Value, "ConnectTimeout"), out e), e);
                }
                if (o.DriftFactor.HasValue)
                {
                    ErrorReader.Check(Native.redlead_config_set_drift_factor(c, o.DriftFactor.Value, out e), e);
                }
                if (o.RetryCount.HasValue)
                {
                    ErrorReader.Check(Native.redlead_config_set_retry_count(c,
                        Marshalling.Count(o.RetryCount.Value, "RetryCount"), out e), e);
                }
                if (o.RetryDelay.HasValue)
                {
                    ErrorReader.Check(Native.redlead_config_set_retry_delay_ms(c,
                        Marshalling.Millis(o.RetryDelay.Value, "RetryDelay"), out e), e);
                }
                if (o.RetryJitter.HasValue)
                {
                    ErrorReader.Check(Native.redlead_config_set_retry_jitter_ms(c,
                        Marshalling.Millis(o.RetryJitter.Value, "RetryJitter"), out e), e);
                }
                if (o.KeyPrefix != null)
                {
                    ErrorReader.Check(Native.redlead_config_set_key_prefix(c,
                        Marshalling.Utf8(o.KeyPrefix, "KeyPrefix"), out e), e);
                }
                if (o.KeyHashTag.HasValue)
                {
                    ErrorReader.Check(Native.redlead_config_set_key_hash_tag(c, o.KeyHashTag.Value, out e), e);
                }
                if (o.TlsRootCaPem != null)
                {
                    ErrorReader.Check(Native.redlead_config_set_tls_root_ca_pem(c,
                        Marshalling.Utf8(o.TlsRootCaPem, "TlsRootCaPem"), out e), e);
                }
                if (o.TlsClientCertPem != null || o.TlsClientKeyPem != null)
                {
                    // Either one alone reaches the library as NULL for the other,
                    // which it rejects naming that parameter.
                    ErrorReader.Check(Native.redlead_config_set_tls_client_cert_pem(c,
                        Marshalling.Utf8(o.TlsClientCertPem, "TlsClientCertPem"),
                        Marshalling.Utf8(o.TlsClientKeyPem, "TlsClientKeyPem"), out e), e);
                }
                if (o.RuntimeThreads.HasValue)
                {
                    ErrorReader.Check(Native.redlead_config_set_runtime_threads(c,
                        Marshalling.Count(o.RuntimeThreads.Value, "RuntimeThreads"), out e), e);
                }
                return c;
            }
            catch
            {
                c.Dispose();
                throw;
            }
        }

        private static LockOptionsHandle BuildLockOptions(LockOptions o)
        {
            LockOptionsHandle h = Native.redlead_lock_options_new();
            if (h.IsInvalid)
            {
                throw new RedleadInternalException(RedleadStatus.Internal,
                    "redlead_lock_options_new returned NULL (a forked child, or a bug)", null);
            }
            if (o == null)
            {
                return h;
            }
            try
            {
                ErrorReader.Handle e;
                if (o.Fenced)
                {
                    ErrorReader.Check(Native.redlead_lock_options_set_fenced(h, true, out e), e);
                }
                if (o.Owner != null)
                {
                    ErrorReader.Check(Native.redlead_lock_options_set_owner(h,
                        Marshalling.Utf8(o.Owner, "Owner"), out e), e);
                }
                if (o.AutoExtend != null)
                {
                    ErrorReader.Check(Native.redlead_lock_options_set_auto_extend(h,
                        Marshalling.Millis(o.AutoExtend.MaxHold, "AutoExtend.MaxHold"),
                        Marshalling.Count(o.AutoExtend.MaxExtensions, "AutoExtend.MaxExtensions"),
                        Marshalling.Millis(o.AutoExtend.Interval, "AutoExtend.Interval"), out e), e);
                }
                return h;
            }
            catch
            {
                h.Dispose();
                throw;
            }
        }
    }
}
