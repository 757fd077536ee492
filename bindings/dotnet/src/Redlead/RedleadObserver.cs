using System;
using System.Runtime.InteropServices;
using System.Threading;

namespace Redlead
{
    /// <summary>
    /// Watches who holds a resource without campaigning for it, like etcd's
    /// <c>Observe</c> (<c>redlead_observer</c>). Subscribe to <see cref="Changed"/>,
    /// then <see cref="Start"/>; <see cref="Dispose"/> stops it.
    /// <para>
    /// The leader is the owner id of the lock value that a quorum of nodes holds;
    /// when no value has a quorum (nobody holds it, a handover is under way, the
    /// nodes disagree) or fewer than a quorum of nodes answer, there is none
    /// (null). The nodes are asked at <see cref="Start"/>, then every poll
    /// interval (default 1 s) and at once when a node announces a release or a
    /// resignation of the resource.
    /// </para>
    /// <para>
    /// <see cref="Changed"/> is raised on the observer's own library thread, one
    /// call at a time, in order: first with the leader at start, then after every
    /// change of the holding (a new leader, none, or the same leader holding anew);
    /// changes that come while a handler runs are coalesced to the latest. A handler
    /// that throws is reported (standard error) and the observer goes on. A started
    /// observer runs until disposed.
    /// </para>
    /// </summary>
    public sealed class RedleadObserver : IDisposable
    {
        /// <summary>SafeHandle of <c>redlead_observer</c>; its free waits for a running handler (at most 5 s).</summary>
        internal sealed class Handle : NativeHandle
        {
            protected override bool ReleaseHandle()
            {
                ErrorReader.Handle error;
                Native.redlead_observer_free(handle, out error);
                error.Dispose();
                return true;
            }
        }

        [StructLayout(LayoutKind.Sequential)]
        private struct ObserveClosure
        {
            public IntPtr Context;
            public IntPtr Call;
            public IntPtr Drop;
        }

        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        private delegate void ChangeFn(IntPtr context, IntPtr leaderId);

        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        private delegate void DropFn(IntPtr context);

        private static class Native
        {
            [DllImport("redlead", CallingConvention = CallingConvention.Cdecl)]
            internal static extern RedleadStatus redlead_observer_start(RedleadClient.Handle client, byte[] resource,
                ulong pollIntervalMs, ObserveClosure closure, out Handle observer, out ErrorReader.Handle error);

            [DllImport("redlead", CallingConvention = CallingConvention.Cdecl)]
            internal static extern RedleadStatus redlead_observer_leader(Handle observer, byte[] buf, UIntPtr bufLen,
                out UIntPtr needed, out ErrorReader.Handle error);

            [DllImport("redlead", CallingConvention = CallingConvention.Cdecl)]
            internal static extern RedleadStatus redlead_observer_free(IntPtr observer, out ErrorReader.Handle error);
        }

        // Static: the delegates live as long as the process. Each call finds its
        // observer through the GCHandle passed as the closure's context.
        private static readonly ChangeFn ChangeDelegate = OnChange;
        private static readonly DropFn DropDelegate = OnDrop;
        private static readonly IntPtr ChangePtr = Marshal.GetFunctionPointerForDelegate(ChangeDelegate);
        private static readonly IntPtr DropPtr = Marshal.GetFunctionPointerForDelegate(DropDelegate);

        /// <summary>The observer whose change this thread is raising, if any.</summary>
        [ThreadStatic]
        private static RedleadObserver dispatching;

        private readonly RedleadClient client;
        private readonly TimeSpan? pollInterval;
        private readonly object gate = new object();
        private Handle handle;
        private int disposed;

        /// <summary>An observer of <paramref name="resource"/>, not started yet.
        /// <paramref name="pollInterval"/>: how often the nodes are asked when nothing is
        /// announced (null or zero: 1 s).</summary>
        public RedleadObserver(RedleadClient client, string resource, TimeSpan? pollInterval = null)
        {
            this.client = client;
            Resource = resource;
            this.pollInterval = pollInterval;
        }

        /// <summary>The holding changed (see the class remarks); raised on the observer's library thread.</summary>
        public event EventHandler<LeaderChangedEventArgs> Changed;

        public string Resource { get; private set; }

        /// <summary>The leader seen last (no network call), or null.</summary>
        public string Leader
        {
            get
            {
                Handle h = handle;
                if (h == null || h.IsClosed || Volatile.Read(ref disposed) != 0)
                {
                    return null;
                }
                try
                {
                    var buf = new byte[257]; // ids are at most 256 bytes + NUL
                    UIntPtr needed;
                    ErrorReader.Handle error;
                    RedleadStatus st = Native.redlead_observer_leader(h, buf, new UIntPtr((uint)buf.Length), out needed,
                        out error);
                    error.Dispose();
                    return st != RedleadStatus.Ok || (ulong)needed == 0 ? null : Marshalling.FromUtf8(buf);
                }
                catch (ObjectDisposedException)
                {
                    return null;
                }
            }
        }

        /// <summary>Starts observing: asks the nodes once (about one round trip) before it
        /// returns. Throws <see cref="InvalidArgumentException"/> for a null or empty resource
        /// or a rejected poll interval.</summary>
        public void Start()
        {
            RedleadClient.Handle c = client == null ? null : client.Live();
            byte[] r = Marshalling.Utf8(Resource, "resource");
            // 0 asks the library for its default.
            ulong ms = pollInterval.HasValue ? Marshalling.Millis(pollInterval.Value, "pollInterval") : 0;
            lock (gate)
            {
                if (Volatile.Read(ref disposed) != 0)
                {
                    throw new ObjectDisposedException("RedleadObserver");
                }
                if (handle != null)
                {
                    throw new InvalidOperationException("the observer was already started");
                }
                if (c == null)
                {
                    throw new InvalidArgumentException("client must not be null");
                }
                GCHandle self = GCHandle.Alloc(this);
                var closure = new ObserveClosure { Context = GCHandle.ToIntPtr(self), Call = ChangePtr, Drop = DropPtr };
                Handle h;
                ErrorReader.Handle error;
                RedleadStatus status;
                try
                {
                    status = Native.redlead_observer_start(c, r, ms, closure, out h, out error);
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

        /// <summary>Stops observing and returns once no handler runs any more (at most 5 s
        /// behind a handler still running). Called from one of its own handlers, the stop
        /// completes on the thread pool after the handler returns. Safe to call twice.</summary>
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
            if (h == null)
            {
                return;
            }
            if (dispatching == this)
            {
                ThreadPool.QueueUserWorkItem(s => ((Handle)s).Dispose(), h);
                return;
            }
            h.Dispose();
        }

        public override string ToString()
        {
            return "RedleadObserver(" + Resource + ", leader " + (Leader ?? "none") + ")";
        }

        private static void OnChange(IntPtr context, IntPtr leaderId)
        {
            NativeThread.EnterCallback();
            try
            {
                var self = (RedleadObserver)GCHandle.FromIntPtr(context).Target;
                // Copy now: the pointer is valid only during this call.
                string leader = Marshalling.FromUtf8(leaderId);
                EventHandler<LeaderChangedEventArgs> handlers = self.Changed;
                if (handlers == null)
                {
                    return;
                }
                dispatching = self;
                try
                {
                    foreach (Delegate d in handlers.GetInvocationList())
                    {
                        try
                        {
                            ((EventHandler<LeaderChangedEventArgs>)d)(self, new LeaderChangedEventArgs(leader));
                        }
                        catch (Exception ex)
                        {
                            Diagnostics.Report("Changed handler of observer " + self.Resource, ex);
                        }
                    }
                }
                finally
                {
                    dispatching = null;
                }
            }
            catch (Exception ex)
            {
                // Never unwind into native code.
                Diagnostics.Report("observer change", ex);
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
                Diagnostics.Report("observer drop", ex);
            }
        }
    }
}
