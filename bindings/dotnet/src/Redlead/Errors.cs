using System;
using System.Collections.Generic;
using System.Collections.ObjectModel;
using System.Runtime.InteropServices;
using System.Threading;

namespace Redlead
{
    /// <summary>The result of every fallible C call (<c>redlead_status</c>; values never renumbered).</summary>
    public enum RedleadStatus
    {
        Ok = 0,
        NotAcquired = 1,
        Lost = 2,
        InvalidArgument = 3,
        Connection = 4,
        Timeout = 5,
        Closed = 6,
        Forked = 7,
        WrongThread = 8,
        Panic = 9,
        Internal = 10,
        Cancelled = 11,
    }

    /// <summary>What one node answered (<c>redlead_outcome</c>).</summary>
    public enum NodeOutcomeKind
    {
        /// <summary>The node did what was asked.</summary>
        Ok = 0,
        /// <summary>The key is held by another owner.</summary>
        Held = 1,
        /// <summary>The key no longer holds this lock's token.</summary>
        NotHeld = 2,
        /// <summary>The node answered with an error or the connection failed.</summary>
        Error = 3,
        /// <summary>No answer within the node timeout.</summary>
        Timeout = 4,
        /// <summary>Decided before this node answered.</summary>
        NotAwaited = 5,
    }

    /// <summary>One node's answer to the operation that failed (or to a ping).</summary>
    public sealed class NodeOutcome
    {
        internal NodeOutcome(string node, NodeOutcomeKind outcome, string message)
        {
            Node = node;
            Outcome = outcome;
            Message = message;
        }

        /// <summary>The node's address (never its password).</summary>
        public string Node { get; private set; }

        public NodeOutcomeKind Outcome { get; private set; }

        public string Message { get; private set; }

        public override string ToString()
        {
            return Node + ": " + Outcome + (string.IsNullOrEmpty(Message) ? "" : " (" + Message + ")");
        }
    }

    /// <summary>
    /// Every failure of a redlead call: the library's status and message, and
    /// what each node answered (empty for errors raised before anything was sent).
    /// A cancelled call throws <see cref="OperationCanceledException"/> instead.
    /// </summary>
    public class RedleadException : Exception
    {
        private static readonly ReadOnlyCollection<NodeOutcome> None =
            new ReadOnlyCollection<NodeOutcome>(new NodeOutcome[0]);

        public RedleadException(string message)
            : this(RedleadStatus.Internal, message, null)
        {
        }

        protected internal RedleadException(RedleadStatus status, string message, IList<NodeOutcome> outcomes)
            : base(message)
        {
            Status = status;
            NodeOutcomes = outcomes == null || outcomes.Count == 0
                ? None
                : new ReadOnlyCollection<NodeOutcome>(outcomes);
        }

        public RedleadStatus Status { get; private set; }

        /// <summary>Per-node outcomes, in the order the node URLs were given.</summary>
        public IReadOnlyList<NodeOutcome> NodeOutcomes { get; private set; }
    }

    /// <summary>The lock is held elsewhere (or the validity ran out while acquiring).</summary>
    public sealed class NotAcquiredException : RedleadException
    {
        internal NotAcquiredException(string message, IList<NodeOutcome> outcomes)
            : base(RedleadStatus.NotAcquired, message, outcomes)
        {
        }
    }

    /// <summary>The lock is known to be gone: expired, or a quorum says it is not ours.
    /// The critical section may have overlapped another holder's.</summary>
    public sealed class LockLostException : RedleadException
    {
        internal LockLostException(string message, IList<NodeOutcome> outcomes)
            : base(RedleadStatus.Lost, message, outcomes)
        {
        }
    }

    /// <summary>A parameter was rejected; the message names it. Nothing was sent.</summary>
    public sealed class InvalidArgumentException : RedleadException
    {
        internal InvalidArgumentException(string message, IList<NodeOutcome> outcomes = null)
            : base(RedleadStatus.InvalidArgument, message, outcomes)
        {
        }
    }

    /// <summary>No quorum of nodes was reachable.</summary>
    public sealed class ConnectionException : RedleadException
    {
        internal ConnectionException(string message, IList<NodeOutcome> outcomes)
            : base(RedleadStatus.Connection, message, outcomes)
        {
        }
    }

    /// <summary>A wait budget ran out (e.g. an election's stop timeout).</summary>
    public sealed class RedleadTimeoutException : RedleadException
    {
        internal RedleadTimeoutException(string message, IList<NodeOutcome> outcomes)
            : base(RedleadStatus.Timeout, message, outcomes)
        {
        }
    }

    /// <summary>The lock was already released, or the election already stopped.</summary>
    public sealed class ClosedException : RedleadException
    {
        internal ClosedException(string message, IList<NodeOutcome> outcomes)
            : base(RedleadStatus.Closed, message, outcomes)
        {
        }
    }

    /// <summary>Used in a child process after fork(); the library is unusable there.</summary>
    public sealed class ForkedException : RedleadException
    {
        internal ForkedException(string message, IList<NodeOutcome> outcomes)
            : base(RedleadStatus.Forked, message, outcomes)
        {
        }
    }

    /// <summary>The call would block or deadlock on this thread (e.g. a blocking call
    /// on a library runtime thread).</summary>
    public sealed class WrongThreadException : RedleadException
    {
        internal WrongThreadException(string message, IList<NodeOutcome> outcomes)
            : base(RedleadStatus.WrongThread, message, outcomes)
        {
        }
    }

    /// <summary>A bug in the library (a caught panic, an unexpected reply); the message says which.</summary>
    public sealed class RedleadInternalException : RedleadException
    {
        internal RedleadInternalException(RedleadStatus status, string message, IList<NodeOutcome> outcomes)
            : base(status, message, outcomes)
        {
        }
    }

    /// <summary>
    /// Reads a <c>redlead_error</c> through the C accessors into a .NET
    /// exception and frees it. The one status-to-exception mapping.
    /// </summary>
    internal static class ErrorReader
    {
        /// <summary>SafeHandle of <c>redlead_error</c>.</summary>
        internal sealed class Handle : NativeHandle
        {
            protected override bool ReleaseHandle()
            {
                Native.redlead_error_free(handle);
                return true;
            }
        }

        private static class Native
        {
            [DllImport("redlead", CallingConvention = CallingConvention.Cdecl)]
            internal static extern IntPtr redlead_error_message(Handle error);

            [DllImport("redlead", CallingConvention = CallingConvention.Cdecl)]
            internal static extern UIntPtr redlead_error_node_count(Handle error);

            [DllImport("redlead", CallingConvention = CallingConvention.Cdecl)]
            internal static extern RedleadStatus redlead_error_node_outcome(
                Handle error, UIntPtr index, out IntPtr node, out NodeOutcomeKind outcome, out IntPtr message,
                IntPtr errorOut);

            [DllImport("redlead", CallingConvention = CallingConvention.Cdecl)]
            internal static extern void redlead_error_free(IntPtr error);

            [DllImport("redlead", CallingConvention = CallingConvention.Cdecl)]
            internal static extern IntPtr redlead_status_str(RedleadStatus status);
        }

        /// <summary>The library's static text for a status.</summary>
        internal static string StatusText(RedleadStatus status)
        {
            return Marshalling.FromUtf8(Native.redlead_status_str(status));
        }

        /// <summary>Throws unless <paramref name="status"/> is Ok; always frees <paramref name="error"/>.</summary>
        internal static void Check(RedleadStatus status, Handle error)
        {
            if (status == RedleadStatus.Ok)
            {
                if (error != null)
                {
                    error.Dispose();
                }
                return;
            }
            throw ToException(status, error, CancellationToken.None);
        }

        /// <summary>
        /// The exception for a failed call, read from <paramref name="error"/>
        /// (which is freed; null or invalid is fine). Cancelled becomes
        /// <see cref="OperationCanceledException"/> carrying <paramref name="token"/>.
        /// </summary>
        internal static Exception ToException(RedleadStatus status, Handle error, CancellationToken token)
        {
            string message;
            List<NodeOutcome> outcomes = null;
            if (error == null || error.IsInvalid)
            {
                message = StatusText(status);
            }
            else
            {
                try
                {
                    message = Marshalling.FromUtf8(Native.redlead_error_message(error));
                    ulong n = (ulong)Native.redlead_error_node_count(error);
                    if (n > 0)
                    {
                        outcomes = new List<NodeOutcome>((int)n);
                        for (ulong i = 0; i < n; i++)
                        {
                            IntPtr node, text;
                            NodeOutcomeKind kind;
                            if (Native.redlead_error_node_outcome(error, new UIntPtr(i), out node, out kind, out text, IntPtr.Zero)
                                == RedleadStatus.Ok)
                            {
                                outcomes.Add(new NodeOutcome(Marshalling.FromUtf8(node), kind, Marshalling.FromUtf8(text)));
                            }
                        }
                    }
                }
                finally
                {
                    error.Dispose();
                }
            }
            switch (status)
            {
                case RedleadStatus.NotAcquired: return new NotAcquiredException(message, outcomes);
                case RedleadStatus.Lost: return new LockLostException(message, outcomes);
                case RedleadStatus.InvalidArgument: return new InvalidArgumentException(message, outcomes);
                case RedleadStatus.Connection: return new ConnectionException(message, outcomes);
                case RedleadStatus.Timeout: return new RedleadTimeoutException(message, outcomes);
                case RedleadStatus.Closed: return new ClosedException(message, outcomes);
                case RedleadStatus.Forked: return new ForkedException(message, outcomes);
                case RedleadStatus.WrongThread: return new WrongThreadException(message, outcomes);
                case RedleadStatus.Cancelled: return new OperationCanceledException(message, token);
                default: return new RedleadInternalException(status, message, outcomes);
            }
        }
    }
}
