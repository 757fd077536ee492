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
