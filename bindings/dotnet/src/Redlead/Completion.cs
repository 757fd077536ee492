using System;
using System.Runtime.InteropServices;
using System.Threading;
using System.Threading.Tasks;

namespace Redlead
{
    /// <summary><c>redlead_completion</c>: {context, call, drop} passed by value.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct NativeCompletion
    {
        public IntPtr Context;
        public IntPtr Call;
        public IntPtr Drop;
    }

    /// <summary>
    /// Turns the library's asynchronous calls (<c>redlead_lock_acquire_async</c>,
    /// <c>_extend_async</c>, <c>_release_async</c>) into Tasks. No thread
    /// waits while a call is in flight: the library calls <see cref="OnCall"/>
    /// once on one of its <c>redlead-cb</c> threads, then <see cref="OnDrop"/>.
    /// The context is a <see cref="GCHandle"/> to the pending call, freed in
    /// drop (the library runs drop exactly once, also when the start fails).
    /// Continuations run on the thread pool, never on the library's thread.
    /// </summary>
    internal static class Completions
    {
        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        private delegate void CallFn(IntPtr context, RedleadStatus status, IntPtr lockPtr, IntPtr errorPtr);

        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        private delegate void DropFn(IntPtr context);

        /// <summary>Starts one native call with the completion and the cancel signal given.</summary>
        internal delegate RedleadStatus Starter(NativeCompletion completion, CancelSignal.Handle cancel,
            out ErrorReader.Handle error);

        // Static, so the delegates (and the thunks the pointers lead to) live as
        // long as the process: a completion can never outlive them.
        private static readonly CallFn CallDelegate = OnCall;
        private static readonly DropFn DropDelegate = OnDrop;
        private static readonly IntPtr CallPtr = Marshal.GetFunctionPointerForDelegate(CallDelegate);
        private static readonly IntPtr DropPtr = Marshal.GetFunctionPointerForDelegate(DropDelegate);

        /// <summary>
        /// Runs <paramref name="start"/> and returns the Task its completion
        /// completes: with <paramref name="onOk"/>'s result on success, with
        /// default(T) on NOT_ACQUIRED when <paramref name="notAcquiredIsDefault"/>,
        /// cancelled when <paramref name="token"/> cancelled it, else faulted with
        /// the mapped <see cref="RedleadException"/>.
        /// </summary>
        internal static Task<T> Run<T>(CancellationToken token, Starter start, Func<RedleadLock.Handle, T> onOk,
            bool notAcquiredIsDefault)
        {
            if (token.IsCancellationRequested)
            {
                return Task.FromCanceled<T>(token);
            }
            CancelSignal cancel;
            try
            {
                cancel = CancelSignal.Create(token);
            }
            catch (Exception e)
            {
                return Task.FromException<T>(e);
            }
            var pending = new Pending<T>(token, cancel, onOk, notAcquiredIsDefault);
            GCHandle gc = GCHandle.Alloc(pending);
            var completion = new NativeCompletion { Context = GCHandle.ToIntPtr(gc), Call = CallPtr, Drop = DropPtr };
            RedleadStatus status;
            ErrorReader.Handle error;
            try
            {
                status = start(completion, cancel.NativeHandle, out error);
            }
            catch (Exception e)
            {
                // Thrown by the marshaller before the call (a disposed handle):
                // the library never saw the completion, so drop will not run.
                gc.Free();
                cancel.Dispose();
                return Task.FromException<T>(e);
            }
            if (status != RedleadStatus.Ok)
            {
                // The library has already run drop (GCHandle freed, signal disposed).
                return Task.FromException<T>(ErrorReader.ToException(status, error, token));
            }
            error.Dispose();
            cancel.Link();
            return pending.Task;
        }

        private static void OnCall(IntPtr context, RedleadStatus status, IntPtr lockPtr, IntPtr errorPtr)
        {
            NativeThread.EnterCallback();
            // Own what the library handed over before anything can throw.
            var lockHandle = new RedleadLock.Handle();
            lockHandle.Adopt(lockPtr);
            var error = new ErrorReader.Handle();
            error.Adopt(errorPtr);
            try
            {
                var pending = (Pending)GCHandle.FromIntPtr(context).Target;
                pending.Complete(status, lockHandle, error);
            }
            catch (Exception e)
            {
                // Never unwind into native code.
                lockHandle.Dispose();
                error.Dispose();
                Diagnostics.Report("completion", e);
            }
        }

        private static void OnDrop(IntPtr context)
        {
            NativeThread.EnterCallback();
            try
            {
                GCHandle gc = GCHandle.FromIntPtr(context);
                var pending = (Pending)gc.Target;
                gc.Free();
                pending.Dropped();
            }
            catch (Exception e)
            {
                Diagnostics.Report("completion drop", e);
            }
        }

        private abstract class Pending
        {
            internal abstract void Complete(RedleadStatus status, RedleadLock.Handle lockHandle, ErrorReader.Handle error);

            internal abstract void Dropped();
        }

        private sealed class Pending<T> : Pending
        {
            private readonly TaskCompletionSource<T> tcs =
                new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);

            private readonly CancellationToken token;
            private readonly CancelSignal cancel;
            private readonly Func<RedleadLock.Handle, T> onOk;
            private readonly bool notAcquiredIsDefault;

            internal Pending(CancellationToken token, CancelSignal cancel, Func<RedleadLock.Handle, T> onOk,
                bool notAcquiredIsDefault)
            {
                this.token = token;
                this.cancel = cancel;
                this.onOk = onOk;
                this.notAcquiredIsDefault = notAcquiredIsDefault;
            }

            internal Task<T> Task
            {
                get { return tcs.Task; }
            }

            internal override void Complete(RedleadStatus status, RedleadLock.Handle lockHandle, ErrorReader.Handle error)
            {
                if (status == RedleadStatus.Ok)
                {
                    error.Dispose();
                    T result;
                    try
                    {
                        result = onOk(lockHandle);
                    }
                    catch (Exception e)
                    {
                        lockHandle.Dispose();
                        tcs.TrySetException(e);
                        return;
                    }
                    tcs.TrySetResult(result);
                    return;
                }
                lockHandle.Dispose();
                if (status == RedleadStatus.Cancelled && token.IsCancellationRequested)
                {
                    error.Dispose();
                    tcs.TrySetCanceled(token);
                }
                else if (status == RedleadStatus.NotAcquired && notAcquiredIsDefault)
                {
                    error.Dispose();
                    tcs.TrySetResult(default(T));
                }
                else
                {
                    tcs.TrySetException(ErrorReader.ToException(status, error, token));
                }
            }

            internal override void Dropped()
            {
                cancel.Dispose();
                // The library promises a call before drop; should it ever break
                // that, the awaiting code must not hang forever.
                tcs.TrySetException(new RedleadInternalException(RedleadStatus.Internal,
                    "the library dropped a completion without calling it", null));
            }
        }
    }

    /// <summary>Last resort for exceptions that must not cross into native code.</summary>
    internal static class Diagnostics
    {
        internal static void Report(string where, Exception e)
        {
            try
            {
                Console.Error.WriteLine("redlead: exception in " + where + " callback (not propagated to native code): " + e);
            }
            catch
            {
            }
        }
    }
}
