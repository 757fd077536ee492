// Cross-language election candidate in C# over bindings/dotnet/src/Redlead
// (tests/cross-language/README.md has the protocol and the argument).
//
//   mono candidate-csharp.exe ID RECORD_FILE RESOURCE TTL_MS NODE_TIMEOUT_MS URL...
//
// Same behaviour as c/candidate.c: while leading, one O_APPEND write of
// "<term> <id> <seq> <t0_ns> <t1_ns>" per tick; commands on stdin, one reply
// line each on stdout.
using System;
using System.Collections.Concurrent;
using System.Linq;
using System.Runtime.InteropServices;
using System.Text;
using System.Threading;
using Redlead;

internal static class Candidate
{
    // libc directly: a FileStream in FileMode.Append seeks to the end and
    // writes there, which is not an atomic append when other processes
    // append too; open(O_APPEND) + one write(2) per record is. And
    // CLOCK_MONOTONIC is the clock the other languages' records use.
    [StructLayout(LayoutKind.Sequential)]
    private struct Timespec
    {
        public long Sec;
        public long Nsec;
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int open(string path, int flags, int mode);

    [DllImport("libc", SetLastError = true)]
    private static extern IntPtr write(int fd, byte[] buf, UIntPtr count);

    [DllImport("libc")]
    private static extern int clock_gettime(int clock, out Timespec ts);

    private const int O_WRONLY = 0x1, O_CREAT = 0x40, O_APPEND = 0x400, CLOCK_MONOTONIC = 1;

    private static ulong NowNs()
    {
        Timespec ts;
        clock_gettime(CLOCK_MONOTONIC, out ts);
        return (ulong)ts.Sec * 1000000000UL + (ulong)ts.Nsec;
    }

    private static void Reply(string line)
    {
        Console.Out.WriteLine(line);
        Console.Out.Flush();
    }

    private static int Main(string[] args)
    {
        if (args.Length < 6)
        {
            Console.Error.WriteLine("usage: candidate-csharp.exe ID RECORD_FILE RESOURCE TTL_MS NODE_TIMEOUT_MS URL...");
            return 2;
        }
        string id = args[0], record = args[1], resource = args[2];
        ulong ttlMs = ulong.Parse(args[3]), nodeTimeoutMs = ulong.Parse(args[4]);
        int fd = open(record, O_WRONLY | O_CREAT | O_APPEND, Convert.ToInt32("644", 8));
        if (fd < 0)
        {
            Console.Error.WriteLine("candidate-csharp: open record file: errno " + Marshal.GetLastWin32Error());
            return 3;
        }
        var client = new RedleadClient(args.Skip(5).ToList(),
            new RedleadClientOptions { NodeTimeout = TimeSpan.FromMilliseconds(nodeTimeoutMs) });
        var election = client.CreateElection(resource, id,
            new ElectionOptions { Ttl = TimeSpan.FromMilliseconds(ttlMs) });
        election.Start();
        Reply("ready " + id);

        // stdin is read on a thread of its own; commands run in the loop
        // below, which also appends, so nothing is appended for a term after
        // `resign` returned.
        var commands = new BlockingCollection<string>();
        var reader = new Thread(() =>
        {
            string l;
            while ((l = Console.In.ReadLine()) != null)
            {
                commands.Add(l);
            }
            commands.CompleteAdding(); // EOF: the driver went away
        });
        reader.IsBackground = true;
        reader.Start();

        RedleadLock held = null;
        ulong seq = 0;
        while (true)
        {
            string line;
            bool got = false;
            try
            {
                got = commands.TryTake(out line, 5);
            }
            catch (InvalidOperationException)
            {
                break; // completed and empty
            }
            if (!got && commands.IsCompleted)
            {
                break;
            }
            if (got)
            {
                string[] words = line.Split(new[] { ' ' }, StringSplitOptions.RemoveEmptyEntries);
                if (words.Length > 0)
                {
                    string arg = words.Length > 1 ? words[1] : "";
                    ulong num = words.Length > 2 ? ulong.Parse(words[2]) : 1000UL;
                    if (words[0] == "quit")
                    {
                        break;
                    }
                    try
                    {
                        switch (words[0])
                        {
                            case "resign":
                                Reply(election.Resign() ? "resigned 1" : "resigned 0");
                                break;
                            case "lock":
                            case "try":
                                RedleadLock l = client.TryAcquire(arg, TimeSpan.FromMilliseconds(num));
                                if (l == null)
                                {
                                    Reply("not-acquired");
                                    break;
                                }
                                if (words[0] == "try")
                                {
                                    l.Release(); // a winning try fails the driver's check
                                    l.Dispose();
                                }
                                else
                                {
                                    held = l;
                                }
                                Reply("acquired");
                                break;
                            case "unlock":
                                if (held == null)
                                {
                                    Reply("error no lock held");
                                    break;
                                }
                                RedleadLock h = held;
                                held = null;
                                try
                                {
                                    h.Release();
                                }
                                finally
                                {
                                    h.Dispose();
                                }
                                Reply("released");
                                break;
                            default:
                                Reply("error unknown command " + words[0]);
                                break;
                        }
                    }
                    catch (RedleadException e)
                    {
                        Reply("error " + e.GetType().Name + ": " + e.Message);
                    }
                }
            }
            // Term, IsLeader, Term: true belongs to term1 only if the term did
            // not change around it (terms never repeat).
            ulong t0 = NowNs();
            ulong term1 = election.Term;
            bool leading = election.IsLeader;
            ulong term2 = election.Term;
            ulong t1 = NowNs();
            if (term1 != 0 && leading && term1 == term2)
            {
                seq++;
                byte[] rec = Encoding.UTF8.GetBytes(term1 + " " + id + " " + seq + " " + t0 + " " + t1 + "\n");
                if ((long)write(fd, rec, new UIntPtr((uint)rec.Length)) != rec.Length)
                {
                    Console.Error.WriteLine("candidate-csharp: append: errno " + Marshal.GetLastWin32Error());
                    return 3;
                }
            }
        }
        election.Dispose();
        client.Dispose();
        Reply("bye");
        return 0;
    }
}
