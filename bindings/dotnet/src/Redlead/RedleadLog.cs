using System;
using System.Runtime.InteropServices;

namespace Redlead
{
    /// <summary>Severity of a library log record (<c>redlead_log_level</c>).</summary>
    public enum RedleadLogLevel
    {
        Error = 1,
        Warn = 2,
        Info = 3,
        Debug = 4,
        Trace = 5,
    }

    /// <summary>One record of the library's log.</summary>
    public sealed class RedleadLogRecord
    {
        internal RedleadLogRecord(RedleadLogLevel level, string target, string message)
        {
            Level = level;
            Target = target;
            Message = message;
        }

        public RedleadLogLevel Level { get; private set; }

        /// <summary>Where it comes from, e.g. "redlead::lock".</summary>
        public string Target { get; private set; }

        /// <summary>The message followed by its fields as " key=value".</summary>
        public string Message { get; private set; }

        public override string ToString()
        {
            return Level + " " + Target + ": " + Message;
        }
    }

    /// <summary>
    /// The library's log (its <c>tracing</c> records), for the whole process.
    /// Records reach the handler on one library thread, in order; when more than
    /// 1024 wait, new ones are dropped and a warning says how many. An exception
    /// thrown by the handler is caught (written to standard error) and never reaches
    /// the library.
    /// </summary>
    public static class RedleadLog
    {
        [StructLayout(LayoutKind.Sequential)]
        private struct LogClosure
        {
            public IntPtr Context;
            public IntPtr Call;
            public IntPtr Drop;
        }

        [StructLayout(LayoutKind.Sequential)]
        private struct NativeRecord
        {
            public int Level;
            public IntPtr Target;
            public IntPtr Message;
        }

        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        private delegate void RecordFn(IntPtr context, IntPtr record);

        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        private delegate void DropFn(IntPtr context);

        private static class Native
        {
            [DllImport("redlead", CallingConvention = CallingConvention.Cdecl)]
            internal static extern RedleadStatus redlead_log_set_callback(LogClosure closure, uint maxLevel,
                out ErrorReader.Handle error);

            [DllImport("redlead", CallingConvention = CallingConvention.Cdecl)]
            internal static extern RedleadStatus redlead_log_clear(out ErrorReader.Handle error);
        }

        private static readonly RecordFn RecordDelegate = OnRecord;
        private static readonly DropFn DropDelegate = OnDrop;
        private static readonly IntPtr RecordPtr = Marshal.GetFunctionPointerForDelegate(RecordDelegate);
        private static readonly IntPtr DropPtr = Marshal.GetFunctionPointerForDelegate(DropDelegate);

        /// <summary>
        /// Sends records of <paramref name="maxLevel"/> and more severe to
        /// <paramref name="handler"/>, replacing the handler set before (which gets no
        /// record once this returns). Do not call it from the handler
        /// (<see cref="WrongThreadException"/>).
        /// </summary>
        public static void SetHandler(Action<RedleadLogRecord> handler, RedleadLogLevel maxLevel = RedleadLogLevel.Info)
        {
            if (handler == null)
            {
                throw new InvalidArgumentException("handler must not be null (use RedleadLog.Clear to stop)");
            }
            GCHandle gc = GCHandle.Alloc(handler);
            var closure = new LogClosure { Context = GCHandle.ToIntPtr(gc), Call = RecordPtr, Drop = DropPtr };
            ErrorReader.Handle error;
            // On failure too, the library has run drop (the GCHandle is freed).
            ErrorReader.Check(Native.redlead_log_set_callback(closure, (uint)maxLevel, out error), error);
        }

        /// <summary>Stops sending records; returns after the handler's last call.</summary>
        public static void Clear()
        {
            ErrorReader.Handle error;
            ErrorReader.Check(Native.redlead_log_clear(out error), error);
        }

        private static void OnRecord(IntPtr context, IntPtr record)
        {
            NativeThread.EnterCallback();
            try
            {
                var handler = (Action<RedleadLogRecord>)GCHandle.FromIntPtr(context).Target;
                NativeRecord r = Marshal.PtrToStructure<NativeRecord>(record);
                handler(new RedleadLogRecord((RedleadLogLevel)r.Level, Marshalling.FromUtf8(r.Target),
                    Marshalling.FromUtf8(r.Message)));
            }
            catch (Exception e)
            {
                Diagnostics.Report("log handler", e);
            }
        }

        private static void OnDrop(IntPtr context)
        {
            NativeThread.EnterCallback();
            try
            {
                GCHandle.FromIntPtr(context).Free();
            }
            catch (Exception e)
            {
                Diagnostics.Report("log drop", e);
            }
        }
    }
}
