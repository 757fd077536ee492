// "Leader election with RedLock.net" on redlead: run this in three instances
// of a service; exactly one of them, the leader, runs the daily job. When the
// leader dies another takes over once its lease runs out, with a higher term;
// when it stops cleanly it resigns and hands over at once.
//
//   mono LeaderElection.exe --id a --journal /tmp/job.log redis://127.0.0.1:7001 redis://127.0.0.1:7002 redis://127.0.0.1:7003
//
// The job's "storage" is a journal file shared by the instances; it refuses
// a run whose term is older than the last one it recorded (the term is the
// fencing token), so a leader that was paused past its lease cannot write
// over its successor. Stops when standard input closes (Ctrl-D) or after
// --run-for-ms. Prints one line per event: READY, LEADER, ELECTED, JOB,
// FENCED, REVOKED, STOPPED.
using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Threading;
using System.Threading.Tasks;
using Redlead;

internal static class Program
{
    private static readonly object Out = new object();

    private static int Main(string[] args)
    {
        var nodes = new List<string>();
        string id = "pid" + Process.GetCurrentProcess().Id, resource = "daily-job", journal = null;
        int ttlMs = 5000, jobEveryMs = 1000, runForMs = 0;
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--id": id = args[++i]; break;
                case "--resource": resource = args[++i]; break;
                case "--journal": journal = args[++i]; break;
                case "--ttl-ms": ttlMs = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--job-every-ms": jobEveryMs = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--run-for-ms": runForMs = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                default: nodes.Add(args[i]); break;
            }
        }
        if (nodes.Count == 0 || journal == null)
        {
            Console.Error.WriteLine("usage: LeaderElection --journal PATH [--id ID] [--resource R] [--ttl-ms 5000] [--job-every-ms 1000] [--run-for-ms 0] redis://host:port ...");
            return 2;
        }

        using (var client = new RedleadClient(nodes))
        using (RedleadElection election = client.CreateElection(resource, id, new ElectionOptions
        {
            Ttl = TimeSpan.FromMilliseconds(ttlMs),
            // Followers try a few times per lease, not once per lease as the
            // article's timer does: a dead leader is replaced soon after its
            // lease ends, not up to a whole period later.
            RetryInterval = TimeSpan.FromMilliseconds(Math.Max(50, ttlMs / 10)),
        }))
        {
            election.Elected += (s, e) =>
            {
                Say("ELECTED {0} term={1}", id, e.Term);
                // Handlers run on the election's thread and must stay short:
                // the job runs elsewhere, for as long as this leadership lasts.
                Task.Run(() => RunDailyJob(id, e.Term, journal, TimeSpan.FromMilliseconds(jobEveryMs), e.Leadership));
            };
            election.Revoked += (s, e) => Say("REVOKED {0} term={1} reason={2}", id, e.Term, e.Reason);
            election.LeaderChanged += (s, e) => Say("LEADER {0} sees {1}", id, e.LeaderId ?? "none");
            election.HandlerFailed += (s, e) => Say("HANDLER-FAILED {0} {1}: {2}", id, e.EventName, e.Exception.Message);
            election.Start();
            Say("READY {0} pid={1}", id, Process.GetCurrentProcess().Id);

            if (runForMs > 0)
            {
                Thread.Sleep(runForMs);
            }
            else
            {
                while (Console.In.ReadLine() != null)
                {
                }
            }
        } // Dispose: stop campaigning and resign, so a follower takes over now.
        Say("STOPPED {0}", id);
        return 0;
    }

    /// <summary>
    /// The "daily job", every <paramref name="every"/> here so that a demo
    /// shows it; stops as soon as <paramref name="leadership"/> ends, which
    /// redlead does before the lock's validity runs out.
    /// </summary>
    private static async Task RunDailyJob(string id, ulong term, string journal, TimeSpan every, CancellationToken leadership)
    {
        int run = 0;
        try
        {
            while (!leadership.IsCancellationRequested)
            {
                run++;
                ulong last;
                if (Journal.TryAppend(journal, term, id, run, out last))
                {
                    Say("JOB {0} term={1} run={2}", id, term, run);
                }
                else
                {
                    Say("FENCED {0} term={1} run={2} (the journal already has term {3})", id, term, run, last);
                    return;
                }
                await Task.Delay(every, leadership);
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (Exception e)
        {
            Say("JOB-FAILED {0} term={1}: {2}", id, term, e.Message);
        }
    }

    private static void Say(string format, params object[] args)
    {
        lock (Out)
        {
            Console.WriteLine(string.Format(CultureInfo.InvariantCulture, format, args));
            Console.Out.Flush();
        }
    }
}

/// <summary>
/// The job's storage: lines "term id run", appended only when the term is not
/// older than the last line's (fencing). The exclusive open keeps two writers
/// apart where the runtime enforces FileShare across processes (.NET on
/// Windows); elsewhere only the leader writes, and the term check is the guard.
/// </summary>
internal static class Journal
{
    internal static bool TryAppend(string path, ulong term, string id, int run, out ulong last)
    {
        for (int attempt = 0; ; attempt++)
        {
            try
            {
                using (var f = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None))
                {
                    last = LastTerm(f);
                    if (term < last)
                    {
                        return false;
                    }
                    f.Seek(0, SeekOrigin.End);
                    byte[] line = System.Text.Encoding.UTF8.GetBytes(
                        term.ToString(CultureInfo.InvariantCulture) + " " + id + " " + run.ToString(CultureInfo.InvariantCulture) + "\n");
                    f.Write(line, 0, line.Length);
                    return true;
                }
            }
            catch (IOException) when (attempt < 100)
            {
                Thread.Sleep(5); // another instance has it open
            }
        }
    }

    private static ulong LastTerm(FileStream f)
    {
        var reader = new StreamReader(f);
        string line, lastLine = null;
        while ((line = reader.ReadLine()) != null)
        {
            if (line.Length > 0)
            {
                lastLine = line;
            }
        }
        return lastLine == null ? 0 : ulong.Parse(lastLine.Split(' ')[0], CultureInfo.InvariantCulture);
    }
}
