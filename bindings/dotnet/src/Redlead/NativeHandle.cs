using System;
using System.Runtime.InteropServices;

namespace Redlead
{
    /// <summary>
    /// Base of the one SafeHandle subclass per C handle type (client, lock,
    /// election, cancel, error, config, election config, lock options,
    /// outcomes). NULL is invalid; each subclass frees with its own
    /// <c>redlead_*_free</c>. The runtime guarantees the free runs once, and
    /// not while a P/Invoke call that was given the handle is still running
    /// (the marshaller holds a reference for the duration of the call).
    /// </summary>
    internal abstract class NativeHandle : SafeHandle
    {
        protected NativeHandle() : base(IntPtr.Zero, true)
        {
        }

        public override bool IsInvalid
        {
            get { return handle == IntPtr.Zero; }
        }

        /// <summary>Takes ownership of a pointer handed to a callback.</summary>
        internal void Adopt(IntPtr p)
        {
            SetHandle(p);
        }
    }
}

namespace Redlead
{
    /// <summary>Bookkeeping for library threads that call into managed code.</summary>
    internal static class NativeThread
    {
        [System.ThreadStatic]
        private static bool marked;

        /// <summary>
        /// First thing in every callback: a native thread that enters managed code
        /// is attached to the runtime as a foreground thread. Marking it background
        /// keeps it from counting as the application's own work. Mono still waits
        /// at exit until every attached thread has ended (README, "Mono"): the
        /// library's redlead-cb threads end after 10 s idle, its log thread never.
        /// </summary>
        internal static void EnterCallback()
        {
            if (marked)
            {
                return;
            }
            marked = true;
            try
            {
                System.Threading.Thread.CurrentThread.IsBackground = true;
            }
            catch (System.Exception)
            {
                // Best effort: a thread the runtime will not let us mark still works.
            }
        }
    }
}
