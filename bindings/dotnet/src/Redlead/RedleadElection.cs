using System;
using System.Runtime.InteropServices;
using System.Threading;
using System.Threading.Tasks;

namespace Redlead
{
    /// <summary>Why a leadership ended (<c>redlead_revoke_reason</c>).</summary>
    public enum RevokeReason
    {
        None = 0,
        /// <summary>Renewals could not reach a quorum before the step-down point.</summary>
        LostQuorum = 1,
        /// <summary>A quorum says the lock is no longer ours.</summary>
        TakenOver = 2,
        /// <summary><see cref="RedleadElection.Resign"/> was called.</summary>
        Resigned = 3,
        /// <summary>The election was stopped (<see cref="RedleadElection.Dispose"/>).</summary>
        Stopped = 4,
    }

    /// <summary>This candidate became leader.</summary>
    public sealed class ElectedEventArgs : EventArgs
    {
        internal ElectedEventArgs(ulong term, CancellationToken leadership)
        {
            Term = term;
            Leadership = leadership;
        }

        /// <summary>The term: a fencing token, strictly greater than every earlier leader's. Pass it downstream.</summary>
        public ulong Term { get; private set; }

        /// <summary>Cancelled when this leadership ends (before <see cref="RedleadElection.Revoked"/> is raised):
        /// scope the leader's work with it.</summary>
        public CancellationToken Leadership { get; private set; }
    }

    /// <summary>This candidate stopped leading.</summary>
    public sealed class RevokedEventArgs : EventArgs
    {
        internal RevokedEventArgs(ulong term, RevokeReason reason)
        {
            Term = term;
            Reason = reason;
        }

        /// <summary>The term that ended.</summary>
        public ulong Term { get; private set; }

        public RevokeReason Reason { get; private set; }
    }

    /// <summary>The leader this candidate observes changed.</summary>
    public sealed class LeaderChangedEventArgs : EventArgs
    {
        internal LeaderChangedEventArgs(string leaderId)
        {
            LeaderId = leaderId;
        }

        /// <summary>The new leader's candidate id, or null when none is known.</summary>
        public string LeaderId { get; private set; }
    }

    /// <summary>An event handler threw; the election went on.</summary>
    public sealed class ElectionHandlerFailedEventArgs : EventArgs
    {
        internal ElectionHandlerFailedEventArgs(string eventName, Exception exception)
        {
            EventName = eventName;
            Exception = exception;
        }

        /// <summary>"Elected", "Revoked", "LeaderChanged", or "Leadership" (a registration on the token).</summary>
        public string EventName { get; private set; }

        public Exception Exception { get; private set; }
    }

    /// <summary>
    /// One candidate's campaign for leadership of a resource (<c>redlead_election</c>).
    /// Subscribe to the events, then <see cref="Start"/>; <see cref="Dispose"/> stops
    /// campaigning and resigns if leading.
    /// <para>
    /// Events are raised on one library thread per election, one at a time and in
    /// order; every <see cref="Elected"/> is followed by a <see cref="Revoked"/> before
    /// the next <see cref="Elected"/>. A handler that throws does not stop the
    /// election nor the other handlers: the exception goes to
    /// <see cref="HandlerFailed"/> (or standard error when nobody listens). Keep
    /// handlers short (start work elsewhere, scoped by
    /// <see cref="ElectedEventArgs.Leadership"/>): a handler that blocks delays the
    /// next events and makes <see cref="Dispose"/> wait up to the stop timeout.
    /// </para>
    /// <para>
    /// A started election is kept alive by its campaign (like a running thread), even
    /// when your code drops every reference to it; dispose it to stop.
    /// </para>
    /// </summary>
    public sealed class RedleadElection : IDisposable
    {
        /// <summary>SafeHandle of <c>redlead_election</c>. Its free stops the campaign,
        /// resigns if leading, and waits for a running handler (at most the stop timeout).</summary>
        internal sealed class Handle : NativeHandle
        {
            internal RedleadStatus FreeStatus { get; private set; }

            protected override bool ReleaseHandle()
            {
                ErrorReader.Handle error;
                FreeStatus = Native.redlead_election_free(handle, out error);
                error.Dispose();
                return true;
            }
        }

        /// <summary>SafeHandle of <c>redlead_election_config</c>.</summary>
        internal sealed class ConfigHandle : NativeHandle
        {
            protected override bool ReleaseHandle()
            {
                Native.redlead_election_config_free(handle);
                return true;
            }
        }

        [StructLayout(LayoutKind.Sequential)]
        private struct EventClosure
        {
            public IntPtr Context;
            public IntPtr Call;
            public IntPtr Drop;
        }

        /// <summary><c>redlead_event</c>, valid only during the call.</summary>
        [StructLayout(LayoutKind.Sequential)]
        private struct NativeEvent
        {
            public int Kind;
            public IntPtr LeaderId;
            public ulong Term;
            public int Reason;
        }

        private const int EventElected = 0;
        private const int EventRevoked = 1;
        private const int EventLeaderChanged = 2;

        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        private delegate void EventFn(IntPtr context, IntPtr ev);

        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        private delegate void DropFn(IntPtr context);

        private static class Native
        {
            [DllImport("redlead", CallingConvention = CallingConvention.Cdecl)]
            internal static extern ConfigHandle redlead_election_config_new();

            [DllImport("redlead", CallingConvention = CallingConvention.Cdecl)]
            internal static extern void redlead_election_config_free(IntPtr config);

            [DllImport("redlead", CallingConvention = CallingConvention.Cdecl)]
            internal static extern RedleadStatus redlead_election_config_set_ttl_ms(ConfigHandle config, ulong ms,
                out ErrorReader.Handle error);

            [DllImport("redlead", CallingConvention = CallingConvention.Cdecl)]
            internal static extern RedleadStatus redlead_election_config_set_renew_interval_ms(ConfigHandle config,
                ulong ms, out ErrorReader.Handle error);

            [DllImport("redlead", CallingConvention = CallingConvention.Cdecl)]
            internal static extern RedleadStatus redlead_election_config_set_retry_interval_ms(ConfigHandle config,
                ulong ms, out ErrorReader.Handle error);

            [DllImport("redlead", CallingConvention = CallingConvention.Cdecl)]
            internal static extern RedleadStatus redlead_election_config_set_retry_jitter_ms(ConfigHandle config,
                ulong ms, out ErrorReader.Handle error);

            [DllImport("redlead", CallingConvention = CallingConvention.Cdecl)]
            internal static extern RedleadStatus redlead_election_config_set_stop_timeout_ms(ConfigHandle config,
                ulong ms, out ErrorReader.Handle error);

            [DllImport("redlead", CallingConvention = CallingConvention.Cdecl)]
            internal static extern RedleadStatus redlead_election_config_set_step_down_margin_ms(ConfigHandle config,
                ulong ms, out ErrorReader.Handle error);

            [DllImport("redlead", CallingConvention = CallingConvention.Cdecl)]
            internal static extern RedleadStatus redlead_election_start(RedleadClient.Handle client, byte[] resource,
                byte[] candidateId, ConfigHandle config, EventClosure closure, out Handle election,
                out ErrorReader.Handle error);

            [DllImport("redlead", CallingConvention = CallingConvention.Cdecl)]
            [return: MarshalAs(UnmanagedType.I1)]
            internal static extern bool redlead_election_is_leader(Handle election);

            [DllImport("redlead", CallingConvention = CallingConvention.Cdecl)]
            internal static extern ulong redlead_election_term(Handle election);

            [DllImport("redlead", CallingConvention = CallingConvention.Cdecl)]
            internal static extern ulong redlead_election_transitions(Handle election);

            [DllImport("redlead", CallingConvention = CallingConvention.Cdecl)]
            [return: MarshalAs(UnmanagedType.I1)]
            internal static extern bool redlead_election_is_healthy(Handle election);

            [DllImport("redlead", CallingConvention = CallingConvention.Cdecl)]
            internal static extern RedleadStatus redlead_election_leader(Handle election, byte[] buf, UIntPtr bufLen,
                out UIntPtr needed, out ErrorReader.Handle error);

            [DllImport("redlead", CallingConvention = CallingConvention.Cdecl)]
            internal static extern RedleadStatus redlead_election_resign(Handle election,
                [MarshalAs(UnmanagedType.I1)] out bool resigned, out ErrorReader.Handle error);

            [DllImport("redlead", CallingConvention = CallingConvention.Cdecl)]
            internal static extern RedleadStatus redlead_election_free(IntPtr election, out ErrorReader.Handle error);
        }

        // Static: the delegates live as long as the process, so no election's
        // callback can outlive them. Each finds its election through the
        // GCHandle passed as the closure's context.
        private static readonly EventFn EventDelegate = OnEvent;
        private static readonly DropFn DropDelegate = OnDrop;
        private static readonly IntPtr EventPtr = Marshal.GetFunctionPointerForDelegate(EventDelegate);
        private static readonly IntPtr DropPtr = Marshal.GetFunctionPointerForDelegate(DropDelegate);

        /// <summary>The election whose event this thread is raising, if any.</summary>
        [ThreadStatic]
        private static RedleadElection dispatching;

        private readonly RedleadClient client;
        private readonly ElectionOptions options;
        private readonly object gate = new object();
        private Handle handle;
        private int disposed;

        /// <summary>Guards the current term and the signal of its next change.</summary>
        private readonly object terms = new object();
        private CancellationTokenSource leadership;
        private ulong leadingTerm;
        private TaskCompletionSource<bool> termChanged = NewSignal();

        /// <summary>
        /// A candidate for leadership of <paramref name="resource"/> as
        /// <paramref name="candidateId"/> (1..256 bytes of UTF-8), not campaigning yet.
        /// </summary>
        public RedleadElection(RedleadClient client, string resource, string candidateId,
            ElectionOptions options = null)
        {
            this.client = client;
            Resource = resource;
            CandidateId = candidateId;
            this.options = options;
        }

        /// <summary>This candidate became leader; raised on the election's library thread.</summary>
        public event EventHandler<ElectedEventArgs> Elected;

        /// <summary>This candidate stopped leading; raised on the election's library thread.</summary>
        public event EventHandler<RevokedEventArgs> Revoked;

        /// <summary>The observed leader changed (null id: none known); raised on the election's library thread.</summary>
        public event EventHandler<LeaderChangedEventArgs> LeaderChanged;

        /// <summary>An event handler threw; raised on the same thread, right after.</summary>
        public event EventHandler<ElectionHandlerFailedEventArgs> HandlerFailed;

        public string Resource { get; private set; }

        public string CandidateId { get; private set; }

        /// <summary>True while this candidate leads. Computed from the clock: it turns false at
        /// the step-down instant, before the lock's validity ends, even if a renewal is late.</summary>
        public bool IsLeader
        {
            get { return Query(h => Native.redlead_election_is_leader(h), false); }
        }

        /// <summary>The current term (fencing token) while leading, else 0.</summary>
        public ulong Term
        {
            get { return Query(h => Native.redlead_election_term(h), 0UL); }
        }

        /// <summary>How many times this candidate saw leadership change hands since it started.</summary>
        public ulong Transitions
        {
            get { return Query(h => Native.redlead_election_transitions(h), 0UL); }
        }

        /// <summary>False when the campaign is stuck or ended without being stopped (for liveness probes).</summary>
        public bool IsHealthy
        {
            get { return Query(h => Native.redlead_election_is_healthy(h), false); }
        }

        /// <summary>
        /// Starts campaigning in the background. Throws
        /// <see cref="InvalidArgumentException"/> for a null or empty resource or
        /// candidate id, or a rejected option.
        /// </summary>
        public void Start()
        {
            RedleadClient.Handle c = client == null ? null : client.Live();
            byte[] r = Marshalling.Utf8(Resource, "resource");
            byte[] id = Marshalling.Utf8(CandidateId, "candidateId");
            lock (gate)
            {
                if (Volatile.Read(ref disposed) != 0)
                {
                    throw new ObjectDisposedException("RedleadElection");
                }
                if (handle != null)
                {
                    throw new InvalidOperationException("the election was already started");
                }
                if (c == null)
                {
                    throw new InvalidArgumentException("client must not be null");
                }
                using (ConfigHandle config = BuildConfig(options))
                {
                    GCHandle self = GCHandle.Alloc(this);
                    var closure = new EventClosure { Context = GCHandle.ToIntPtr(self), Call = EventPtr, Drop = DropPtr };
                    Handle h;
                    ErrorReader.Handle error;
                    RedleadStatus status;
                    try
                    {
                        status = Native.redlead_election_start(c, r, id, config, closure, out h, out error);
                    }
                    catch
                    {
                        self.Free(); // refused by the marshaller: the library never saw the closure
                        throw;
                    }
                    if (status != RedleadStatus.Ok)
                    {
                        h.Dispose();
                    }
                    // On failure the library has run drop (the GCHandle is freed).
                    ErrorReader.Check(status, error);
                    handle = h;
                }
            }
        }

        /// <summary>Asks the nodes who leads now: the leader's candidate id, or null when nobody
        /// does. Blocks for about one round trip.</summary>
        public string Leader()
        {
            Handle h = Live();
            var buf = new byte[257]; // ids are at most 256 bytes + NUL
            UIntPtr needed;
            ErrorReader.Handle error;
            ErrorReader.Check(Native.redlead_election_leader(h, buf, new UIntPtr((uint)buf.Length), out needed, out error), error);
            ulong n = (ulong)needed;
            if (n == 0)
            {
                return null;
            }
            if (n > (ulong)buf.Length)
            {
                throw new RedleadInternalException(RedleadStatus.Internal,
                    "leader id of " + n + " bytes does not fit the 257 the header promises", null);
            }
            return Marshalling.FromUtf8(buf);
        }

        /// <summary>Releases leadership now and tells the followers; true if this call ended a
        /// leadership. The campaign goes on (this candidate may be elected again). Blocks for
        /// about one round trip.</summary>
        public bool Resign()
        {
            Handle h = Live();
            bool resigned;
            ErrorReader.Handle error;
            ErrorReader.Check(Native.redlead_election_resign(h, out resigned, out error), error);
            return resigned;
        }

        /// <summary>
        /// Waits until this candidate leads, then runs <paramref name="work"/> with the term
        /// and a token cancelled when that term ends (the token of
        /// <see cref="ElectedEventArgs.Leadership"/>) or <paramref name="cancel"/> is, and
        /// completes as the work does. Like client-go's <c>OnStartedLeading(ctx)</c>: scope
        /// the leader's work with the token and return when it is done. It runs the work
        /// once; call it in a loop to serve every term. Cancelled by
        /// <paramref name="cancel"/> before this candidate leads, it completes as canceled;
        /// after <see cref="Dispose"/>, with <see cref="ObjectDisposedException"/>.
        /// <para>
        /// The term's token is cancelled when the REVOKED event is raised on the election's
        /// library thread, before the <see cref="Revoked"/> handlers: as soon as the term
        /// ends unless an earlier handler is still running, so keep handlers short.
        /// <see cref="IsLeader"/>, computed from the clock, turns false on time whatever the
        /// handlers do.
        /// </para>
        /// </summary>
        public async Task RunWhileLeaderAsync(Func<ulong, CancellationToken, Task> work,
            CancellationToken cancel = default(CancellationToken))
        {
            if (work == null)
            {
                throw new ArgumentNullException("work");
            }
            while (true)
            {
                Task next;
                CancellationTokenSource term;
                ulong number;
                lock (terms)
                {
                    next = termChanged.Task;
                    term = leadership;
                    number = leadingTerm;
                }
                if (Volatile.Read(ref disposed) != 0)
                {
                    throw new ObjectDisposedException("RedleadElection");
                }
                if (term != null && !term.IsCancellationRequested)
                {
                    using (var linked = CancellationTokenSource.CreateLinkedTokenSource(term.Token, cancel))
                    {
                        await work(number, linked.Token).ConfigureAwait(false);
                    }
                    return;
                }
                cancel.ThrowIfCancellationRequested();
                var cancelled = NewSignal();
                using (cancel.Register(() => cancelled.TrySetResult(true)))
                {
                    await Task.WhenAny(next, cancelled.Task).ConfigureAwait(false);
                }
            }
        }

        /// <summary>
        /// Stops campaigning and resigns if leading (a <see cref="Revoked"/> with
        /// <see cref="RevokeReason.Stopped"/> is raised first), then returns once no
        /// handler runs any more: about one round trip, plus at most the stop timeout
        /// behind a handler still running. Called from one of this election's own
        /// handlers, it cannot wait for itself: the stop then completes on the thread
        /// pool after the handler returns. Safe to call twice.
        /// </summary>
        public void Dispose()
        {
            Handle h;
            lock (gate)
            {
                if (Interlocked.Exchange(ref disposed, 1) != 0)
                {
                    return;
                }
                h = handle;
            }
            if (h != null && dispatching == this)
            {
                ThreadPool.QueueUserWorkItem(s => ((Handle)s).Dispose(), h);
            }
            else if (h != null)
            {
                h.Dispose();
            }
            SignalTermChange(); // RunWhileLeaderAsync waiters see the disposal
        }

        public override string ToString()
        {
            return "RedleadElection(" + Resource + ", " + CandidateId + (IsLeader ? ", leader of term " + Term : "") + ")";
        }

        private Handle Live()
        {
            Handle h = handle;
            if (Volatile.Read(ref disposed) != 0)
            {
                throw new ObjectDisposedException("RedleadElection");
            }
            if (h == null)
            {
                throw new InvalidOperationException("the election was not started (call Start)");
            }
            return h;
        }

        private T Query<T>(Func<Handle, T> read, T whenGone)
        {
            Handle h = handle;
            try
            {
                return h == null || h.IsClosed ? whenGone : read(h);
            }
            catch (ObjectDisposedException)
            {
                return whenGone;
            }
        }

        private static ConfigHandle BuildConfig(ElectionOptions o)
        {
            ConfigHandle c = Native.redlead_election_config_new();
            if (c.IsInvalid)
            {
                throw new RedleadInternalException(RedleadStatus.Internal,
                    "redlead_election_config_new returned NULL (a forked child, or a bug)", null);
            }
            if (o == null)
            {
                return c;
            }
            try
            {
                ErrorReader.Handle e;
                if (o.Ttl.HasValue)
                {
                    ErrorReader.Check(Native.redlead_election_config_set_ttl_ms(c,
                        Marshalling.Millis(o.Ttl.Value, "Ttl"), out e), e);
                }
                if (o.RenewInterval.HasValue)
                {
                    ErrorReader.Check(Native.redlead_election_config_set_renew_interval_ms(c,
                        Marshalling.Millis(o.RenewInterval.Value, "RenewInterval"), out e), e);
                }
                if (o.RetryInterval.HasValue)
                {
                    ErrorReader.Check(Native.redlead_election_config_set_retry_interval_ms(c,
                        Marshalling.Millis(o.RetryInterval.Value, "RetryInterval"), out e), e);
                }
                if (o.RetryJitter.HasValue)
                {
                    ErrorReader.Check(Native.redlead_election_config_set_retry_jitter_ms(c,
                        Marshalling.Millis(o.RetryJitter.Value, "RetryJitter"), out e), e);
                }
                if (o.StepDownMargin.HasValue)
                {
                    ErrorReader.Check(Native.redlead_election_config_set_step_down_margin_ms(c,
                        Marshalling.Millis(o.StepDownMargin.Value, "StepDownMargin"), out e), e);
                }
                if (o.StopTimeout.HasValue)
                {
                    ErrorReader.Check(Native.redlead_election_config_set_stop_timeout_ms(c,
                        Marshalling.Millis(o.StopTimeout.Value, "StopTimeout"), out e), e);
                }
                return c;
            }
            catch
            {
                c.Dispose();
                throw;
            }
        }

        private static void OnEvent(IntPtr context, IntPtr ev)
        {
            NativeThread.EnterCallback();
            try
            {
                var self = (RedleadElection)GCHandle.FromIntPtr(context).Target;
                NativeEvent e = Marshal.PtrToStructure<NativeEvent>(ev);
                // Copy what the pointer leads to now: it is valid only during this call.
                string leaderId = Marshalling.FromUtf8(e.LeaderId);
                dispatching = self;
                try
                {
                    self.Dispatch(e.Kind, leaderId, e.Term, (RevokeReason)e.Reason);
                }
                finally
                {
                    dispatching = null;
                }
            }
            catch (Exception ex)
            {
                // Never unwind into native code.
                Diagnostics.Report("election event", ex);
            }
        }

        private static void OnDrop(IntPtr context)
        {
            NativeThread.EnterCallback();
            try
            {
                GCHandle.FromIntPtr(context).Free();
            }
            catch (Exception ex)
            {
                Diagnostics.Report("election drop", ex);
            }
        }

        private void Dispatch(int kind, string leaderId, ulong term, RevokeReason reason)
        {
            switch (kind)
            {
                case EventElected:
                    {
                        var cts = new CancellationTokenSource();
                        CancellationTokenSource old = SwapTerm(cts, term);
                        EndLeadership(old); // never expected: every ELECTED follows a REVOKED
                        Raise(Elected, new ElectedEventArgs(term, cts.Token), "Elected");
                        break;
                    }
                case EventRevoked:
                    EndLeadership(SwapTerm(null, 0));
                    Raise(Revoked, new RevokedEventArgs(term, reason), "Revoked");
                    break;
                case EventLeaderChanged:
                    Raise(LeaderChanged, new LeaderChangedEventArgs(leaderId), "LeaderChanged");
                    break;
            }
        }

        /// <summary>Makes <paramref name="next"/> the current term's source (null: none) and
        /// wakes the RunWhileLeaderAsync waiters; returns the previous one.</summary>
        private CancellationTokenSource SwapTerm(CancellationTokenSource next, ulong term)
        {
            CancellationTokenSource old;
            lock (terms)
            {
                old = leadership;
                leadership = next;
                leadingTerm = term;
            }
            SignalTermChange();
            return old;
        }

        private void SignalTermChange()
        {
            TaskCompletionSource<bool> fired;
            lock (terms)
            {
                fired = termChanged;
                termChanged = NewSignal();
            }
            fired.TrySetResult(true);
        }

        /// <summary>Continuations run on the thread pool, never on the library thread that signals.</summary>
        private static TaskCompletionSource<bool> NewSignal()
        {
            return new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        private void EndLeadership(CancellationTokenSource cts)
        {
            if (cts == null)
            {
                return;
            }
            try
            {
                cts.Cancel();
            }
            catch (Exception ex)
            {
                Failed("Leadership", ex);
            }
        }

        /// <summary>Each handler on its own, so one that throws does not skip the others.</summary>
        private void Raise<T>(EventHandler<T> handlers, T args, string name) where T : EventArgs
        {
            if (handlers == null)
            {
                return;
            }
            foreach (Delegate d in handlers.GetInvocationList())
            {
                try
                {
                    ((EventHandler<T>)d)(this, args);
                }
                catch (Exception ex)
                {
                    Failed(name, ex);
                }
            }
        }

        private void Failed(string name, Exception ex)
        {
            EventHandler<ElectionHandlerFailedEventArgs> h = HandlerFailed;
            if (h == null)
            {
                Diagnostics.Report(name + " handler of election " + Resource + "/" + CandidateId, ex);
                return;
            }
            try
            {
                h(this, new ElectionHandlerFailedEventArgs(name, ex));
            }
            catch (Exception inner)
            {
                Diagnostics.Report("HandlerFailed handler", inner);
            }
        }
    }
}
