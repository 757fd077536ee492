using System;
using System.Runtime.InteropServices;
using System.Threading;
using System.Threading.Tasks;

namespace Redlead
{
    /// <summary>
    /// A held (or formerly held) lock (<c>redlead_lock</c>). Thread-safe.
    /// <see cref="Dispose"/> releases it if it was not released (waiting about one
    /// round trip for a quorum of nodes, errors ignored: call <see cref="Release"/>
    /// to see them) and frees it. A lock that is never disposed is released in the
    /// background when its finalizer frees it.
    /// Act on the protected resource only while <see cref="IsHeld"/>, and pass
    /// <see cref="FencingToken"/> to it.
    /// </summary>
    public sealed class RedleadLock : IDisposable
    {
        /// <summary>SafeHandle of <c>redlead_lock</c>; its free never waits on the network
        /// (a held lock is released in the background), so it is safe from the finalizer.</summary>
        internal sealed class Handle : NativeHandle
        {
            protected override bool ReleaseHandle()
            {
                Native.redlead_lock_free(handle);
                return true;
            }
        }

        [StructLayout(LayoutKind.Sequential)]
        private struct LostClosure
        {
            public IntPtr Context;
            public IntPtr Call;
            public IntPtr Drop;
        }

        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        private delegate void ContextFn(IntPtr context);

        private static class Native
        {
            [DllImport("redlead", CallingConvention = CallingConvention.Cdecl)]
            internal static extern void redlead_lock_free(IntPtr lockPtr);

            [DllImport("redlead", CallingConvention = CallingConvention.Cdecl)]
            internal static extern RedleadStatus redlead_lock_extend(Handle lockHandle, ulong ttlMs,
                out ErrorReader.Handle error);

            [DllImport("redlead", CallingConvention = CallingConvention.Cdecl)]
            internal static extern RedleadStatus redlead_lock_extend_async(Handle lockHandle, ulong ttlMs,
                NativeCompletion completion, out ErrorReader.Handle error);

            [DllImport("redlead", CallingConvention = CallingConvention.Cdecl)]
            internal static extern RedleadStatus redlead_lock_release(Handle lockHandle, out ErrorReader.Handle error);

            [DllImport("redlead", CallingConvention = CallingConvention.Cdecl)]
            internal static extern RedleadStatus redlead_lock_release_async(Handle lockHandle,
                NativeCompletion completion, out ErrorReader.Handle error);

            [DllImport("redlead", CallingConvention = CallingConvention.Cdecl)]
            internal static extern RedleadStatus redlead_lock_on_lost(Handle lockHandle, LostClosure closure,
                out ErrorReader.Handle error);

            [DllImport("redlead", CallingConvention = CallingConvention.Cdecl)]
            internal static extern ulong redlead_lock_validity_ms(Handle lockHandle);

            [DllImport("redlead", CallingConvention = CallingConvention.Cdecl)]
            [return: MarshalAs(UnmanagedType.I1)]
            internal static extern bool redlead_lock_is_held(Handle lockHandle);

            [DllImport("redlead", CallingConvention = CallingConvention.Cdecl)]
            internal static extern ulong redlead_lock_fencing_token(Handle lockHandle);

            [DllImport("redlead", CallingConvention = CallingConvention.Cdecl)]
            internal static extern uint redlead_lock_extensions(Handle lockHandle);
        }

        private static readonly ContextFn LostCallDelegate = OnLost;
        private static readonly ContextFn LostDropDelegate = OnLostDrop;
        private static readonly IntPtr LostCallPtr = Marshal.GetFunctionPointerForDelegate(LostCallDelegate);
        private static readonly IntPtr LostDropPtr = Marshal.GetFunctionPointerForDelegate(LostDropDelegate);

        private readonly Handle handle;
        private readonly object gate = new object();
        private CancellationTokenSource lost;
        private int releaseStarted;
        private int disposed;

        internal RedleadLock(Handle handle, string resource)
        {
            this.handle = handle;
            Resource = resource;
        }

        /// <summary>The resource this lock is on.</summary>
        public string Resource { get; private set; }

        /// <summary>
        /// True while it is safe to act under the lock: held, not known lost, and more
        /// than its safety margin of validity left. It turns false <em>before</em> the
        /// validity ends when the lock could not be extended, so that the holder stops
        /// before another can get the lock. False after release and dispose.
        /// </summary>
        public bool IsHeld
        {
            get { return Query(h => Native.redlead_lock_is_held(h), false); }
        }

        /// <summary>Validity left (zero when over, released or disposed). Act on the resource only within it.</summary>
        public TimeSpan Validity
        {
            get { return TimeSpan.FromMilliseconds(Query(h => Native.redlead_lock_validity_ms(h), 0UL)); }
        }

        /// <summary>
        /// The fencing token of a lock acquired with <see cref="LockOptions.Fenced"/>:
        /// strictly greater than every earlier fenced acquisition's of the same
        /// resource. 0 for an unfenced lock (tokens start at 1).
        /// </summary>
        public ulong FencingToken
        {
            get { return Query(h => Native.redlead_lock_fencing_token(h), 0UL); }
        }

        /// <summary>How many times the lock was extended (by <see cref="Extend"/> or auto-extension).</summary>
        public int Extensions
        {
            get { return (int)Query(h => Native.redlead_lock_extensions(h), 0U); }
        }

        /// <summary>
        /// Cancelled when the lock is lost while held: a quorum says it is gone, or an
        /// extension failed (or auto-extension reached its cap) and the safety margin
        /// is reached — the moment <see cref="IsHeld"/> turns false by itself. Never
        /// cancelled by <see cref="Release"/> or <see cref="Dispose"/>. Its callbacks
        /// run on the thread pool.
        /// </summary>
        public CancellationToken Lost
        {
            get
            {
                lock (gate)
                {
                    if (lost == null)
                    {
                        lost = new CancellationTokenSource();
                        WatchLost(lost);
                    }
                    return lost.Token;
                }
            }
        }

        /// <summary>
        /// Sets the remaining time to live to <paramref name="ttl"/> on every node where
        /// the lock is still this lock's; succeeds only with a quorum and never
        /// re-creates an expired key. Throws <see cref="LockLostException"/> when a
        /// quorum says it is gone, <see cref="ClosedException"/> after release. Blocks
        /// for about one round trip.
        /// </summary>
        public void Extend(TimeSpan ttl)
        {
            ulong ms = Marshalling.Millis(ttl, "ttl");
            ErrorReader.Handle error;
            ErrorReader.Check(Native.redlead_lock_extend(Live(), ms, out error), error);
        }

        /// <summary><see cref="Extend"/> without blocking a thread.</summary>
        public Task ExtendAsync(TimeSpan ttl)
        {
            ulong ms;
            Handle h;
            try
            {
                ms = Marshalling.Millis(ttl, "ttl");
                h = Live();
            }
            catch (Exception e)
            {
                return Task.FromException(e);
            }
            return Completions.Run(CancellationToken.None,
                delegate(NativeCompletion completion, CancelSignal.Handle cancel, out ErrorReader.Handle error)
                {
                    return Native.redlead_lock_extend_async(h, ms, completion, out error);
                },
                NoLock, false);
        }

        /// <summary>
        /// Releases the lock on every node; returns when a quorum answered. Throws
        /// <see cref="LockLostException"/> when it had expired before the release (the
        /// critical section may have overlapped another holder's),
        /// <see cref="ClosedException"/> when it was already released. Blocks for about
        /// one round trip. The lock still must be disposed (cheap).
        /// </summary>
        public void Release()
        {
            Handle h = Live();
            Interlocked.Exchange(ref releaseStarted, 1);
            ErrorReader.Handle error;
            ErrorReader.Check(Native.redlead_lock_release(h, out error), error);
        }

        /// <summary><see cref="Release"/> without blocking a thread.</summary>
        public Task ReleaseAsync()
        {
            Handle h;
            try
            {
                h = Live();
            }
            catch (Exception e)
            {
                return Task.FromException(e);
            }
            Interlocked.Exchange(ref releaseStarted, 1);
            return ReleaseCoreAsync(h);
        }

        /// <summary>
        /// <see cref="Dispose"/> without blocking a thread: releases the lock if
        /// <see cref="Release"/> was not called (errors are ignored) and frees it.
        /// Safe to call twice. (A method, not IAsyncDisposable, which netstandard2.0
        /// has only through an extra package.)
        /// </summary>
        public async Task DisposeAsync()
        {
            if (Interlocked.Exchange(ref disposed, 1) != 0)
            {
                return;
            }
            if (Interlocked.Exchange(ref releaseStarted, 1) == 0)
            {
                try
                {
                    await ReleaseCoreAsync(handle).ConfigureAwait(false);
                }
                catch (RedleadException)
                {
                    // As Dispose: Lost or Closed here has nobody to tell.
                }
                catch (ObjectDisposedException)
                {
                }
            }
            handle.Dispose();
        }

        private Task ReleaseCoreAsync(Handle h)
        {
            return Completions.Run(CancellationToken.None,
                delegate(NativeCompletion completion, CancelSignal.Handle cancel, out ErrorReader.Handle error)
                {
                    return Native.redlead_lock_release_async(h, completion, out error);
                },
                NoLock, false);
        }

        /// <summary>
        /// Releases the lock if <see cref="Release"/> was not called (waits about one
        /// round trip; errors are ignored) and frees it. Safe to call twice.
        /// </summary>
        public void Dispose()
        {
            if (Interlocked.Exchange(ref disposed, 1) != 0)
            {
                return;
            }
            if (Interlocked.Exchange(ref releaseStarted, 1) == 0)
            {
                try
                {
                    ErrorReader.Handle error;
                    Native.redlead_lock_release(handle, out error);
                    error.Dispose();
                }
                catch (ObjectDisposedException)
                {
                }
            }
            handle.Dispose();
        }

        public override string ToString()
        {
            return "RedleadLock(" + Resource + ", token " + FencingToken + ", held " + IsHeld + ")";
        }

        private static object NoLock(Handle lockHandle)
        {
            lockHandle.Dispose();
            return null;
        }

        private Handle Live()
        {
            if (handle.IsClosed || Volatile.Read(ref disposed) != 0)
            {
                throw new ObjectDisposedException("RedleadLock");
            }
            return handle;
        }

        /// <summary>An accessor that answers <paramref name="whenGone"/> after dispose instead of throwing.</summary>
        private T Query<T>(Func<Handle, T> read, T whenGone)
        {
            try
            {
                return handle.IsClosed ? whenGone : read(handle);
            }
            catch (ObjectDisposedException)
            {
                return whenGone;
            }
        }

        private void WatchLost(CancellationTokenSource cts)
        {
            GCHandle gc = GCHandle.Alloc(cts);
            var closure = new LostClosure { Context = GCHandle.ToIntPtr(gc), Call = LostCallPtr, Drop = LostDropPtr };
            try
            {
                ErrorReader.Handle error;
                // Failure (released already, disposed): drop has run, the token
                // just never fires, as documented.
                Native.redlead_lock_on_lost(handle, closure, out error);
                error.Dispose();
            }
            catch (ObjectDisposedException)
            {
                gc.Free(); // the marshaller refused before the call: no drop will come
            }
        }

        private static void OnLost(IntPtr context)
        {
            NativeThread.EnterCallback();
            try
            {
                var cts = (CancellationTokenSource)GCHandle.FromIntPtr(context).Target;
                // User registrations must not run on the library's thread.
                ThreadPool.QueueUserWorkItem(s =>
                {
                    try
                    {
                        ((CancellationTokenSource)s).Cancel();
                    }
                    catch (Exception e)
                    {
                        Diagnostics.Report("Lost token registration", e);
                    }
                }, cts);
            }
            catch (Exception e)
            {
                Diagnostics.Report("lost", e);
            }
        }

        private static void OnLostDrop(IntPtr context)
        {
            NativeThread.EnterCallback();
            try
            {
                GCHandle.FromIntPtr(context).Free();
            }
            catch (Exception e)
            {
                Diagnostics.Report("lost drop", e);
            }
        }
    }
}
