using System;
using System.Runtime.InteropServices;
using System.Threading;

namespace Redlead
{
    /// <summary>
    /// A <c>redlead_cancel</c> tied to a <see cref="CancellationToken"/>: when
    /// the token is cancelled, every call given this signal ends with
    /// <c>REDLEAD_ERR_CANCELLED</c> at once (an attempt already sent finishes in
    /// the background and releases what it took, leaving no key).
    /// </summary>
    internal sealed class CancelSignal : IDisposable
    {
        /// <summary>SafeHandle of <c>redlead_cancel</c>.</summary>
        internal sealed class Handle : NativeHandle
        {
            protected override bool ReleaseHandle()
            {
                Native.redlead_cancel_free(handle);
                return true;
            }
        }

        private static class Native
        {
            [DllImport("redlead", CallingConvention = CallingConvention.Cdecl)]
            internal static extern Handle redlead_cancel_new();

            [DllImport("redlead", CallingConvention = CallingConvention.Cdecl)]
            internal static extern RedleadStatus redlead_cancel_cancel(Handle cancel, IntPtr errorOut);

            [DllImport("redlead", CallingConvention = CallingConvention.Cdecl)]
            internal static extern void redlead_cancel_free(IntPtr cancel);
        }

        private readonly CancellationToken token;
        private readonly object gate = new object();
        private CancellationTokenRegistration registration;
        private bool disposed;

        private CancelSignal(Handle handle, CancellationToken token)
        {
            NativeHandle = handle;
            this.token = token;
        }

        internal Handle NativeHandle { get; private set; }

        /// <summary>A new signal; not yet linked to <paramref name="token"/> (see <see cref="Link"/>).</summary>
        internal static CancelSignal Create(CancellationToken token)
        {
            Handle h = Native.redlead_cancel_new();
            if (h.IsInvalid)
            {
                throw new RedleadInternalException(RedleadStatus.Internal,
                    "redlead_cancel_new returned NULL (a forked child, or a bug)", null);
            }
            return new CancelSignal(h, token);
        }

        /// <summary>
        /// From now on, cancelling the token cancels the native signal (at once
        /// if it already is). Call after the native call was started, so that
        /// a cancel never races ahead of the call it is meant for.
        /// </summary>
        internal void Link()
        {
            if (!token.CanBeCanceled)
            {
                return;
            }
            // The call may have completed (and disposed this) already, on a
            // library thread: then registering would only leak a registration.
            lock (gate)
            {
                if (!disposed)
                {
                    registration = token.Register(s => ((CancelSignal)s).Fire(), this);
                }
            }
        }

        private void Fire()
        {
            try
            {
                // Disposed already: the call it was for has completed.
                if (!NativeHandle.IsClosed)
                {
                    Native.redlead_cancel_cancel(NativeHandle, IntPtr.Zero);
                }
            }
            catch (ObjectDisposedException)
            {
            }
        }

        public void Dispose()
        {
            CancellationTokenRegistration r;
            lock (gate)
            {
                if (disposed)
                {
                    return;
                }
                disposed = true;
                r = registration;
            }
            // Outside the gate: this waits for a Fire in progress, which never
            // takes the gate.
            r.Dispose();
            NativeHandle.Dispose();
        }
    }
}
