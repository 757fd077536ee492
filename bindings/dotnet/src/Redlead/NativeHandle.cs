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

        private static int exitHooked;

        private static class Native
        {
            [System.Runtime.InteropServices.DllImport("redlead",
                CallingConvention = System.Runtime.InteropServices.CallingConvention.Cdecl)]
            internal static extern UIntPtr redlead_release_idle_threads();

            [System.Runtime.InteropServices.DllImport("redlead",
                CallingConvention = System.Runtime.InteropServices.CallingConvention.Cdecl)]
            internal static extern RedleadStatus redlead_log_clear(IntPtr errorOut);
        }

        /// <summary>
        /// First thing in every callback: a native thread that enters managed code
        /// is attached to the runtime as a foreground thread. Marking it background
        /// keeps it from counting as the application's own work. Mono still waits
        /// at exit until every attached thread has ended, so the first callback
        /// also hooks process exit to end the library's idle callback threads
        /// (which would otherwise linger 10 s) and its log thread.
        /// </summary>
        internal static void EnterCallback()
        {
            if (marked)
            {
                return;
            }
            marked = true;
            if (System.Threading.Interlocked.Exchange(ref exitHooked, 1) == 0)
            {
                AppDomain.CurrentDomain.ProcessExit += OnProcessExit;
            }
            try
            {
                System.Threading.Thread.CurrentThread.IsBackground = true;
            }
            catch (System.Exception)
            {
                // Best effort: a thread the runtime will not let us mark still works.
            }
        }

        // Runs after the application's foreground threads ended and before Mono
        // waits for the attached ones. The log handler gets no record after this.
        private static void OnProcessExit(object sender, EventArgs e)
        {
            try
            {
                Native.redlead_log_clear(IntPtr.Zero);
                Native.redlead_release_idle_threads();
            }
            catch (Exception)
            {
                // Exiting anyway: a missing library or entry point only costs the wait.
            }
        }
    }
}
