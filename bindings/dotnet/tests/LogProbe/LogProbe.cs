// Test helper of AbiTests, run as its own process: sets a RedleadLog handler,
// makes the library log, and prints what arrived; then exits by itself. The
// test checks that it does so promptly: Mono waits at exit for every native
// thread that ran managed code (the library's log and callback threads), and
// the binding ends them at process exit. Mode "exit" leaves its log handler
// set and has just used an async call when Main returns.
//   mono LogProbe.exe records|throwing|exit URL...
using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Threading;
using Redlead;

internal static class LogProbe
{
    private static void ContendedAcquire(RedleadClient c, string resource)
    {
        // The second attempt fails, and the core logs "acquire failed" at DEBUG.
        using (RedleadLock held = c.TryAcquire(resource, TimeSpan.FromSeconds(5)))
        {
            if (c.TryAcquire(resource, TimeSpan.FromSeconds(5)) != null)
            {
                throw new Exception("acquired a held lock");
            }
        }
    }

    private static bool Eventually(Func<bool> condition)
    {
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < TimeSpan.FromSeconds(5))
        {
            if (condition())
            {
                return true;
            }
            Thread.Sleep(10);
        }
        return condition();
    }

    private static int Main(string[] args)
    {
        string resource = "log-probe-" + Guid.NewGuid().ToString("N");
        using (var c = new RedleadClient(args.Skip(1).ToList()))
        {
            if (args[0] == "records")
            {
                var records = new List<RedleadLogRecord>();
                RedleadLog.SetHandler(r => { lock (records) records.Add(r); }, RedleadLogLevel.Debug);
                ContendedAcquire(c, resource);
                bool arrived = Eventually(() => { lock (records) return records.Any(r => r.Message.Contains("acquire failed")); });
                RedleadLog.Clear();
                int atClear;
                lock (records)
                {
                    atClear = records.Count;
                    foreach (RedleadLogRecord r in records)
                    {
                        Console.WriteLine("RECORD " + (int)r.Level + " " + r.Target + " " + r.Message.Replace('\n', ' '));
                    }
                }
                Console.WriteLine("ARRIVED " + arrived);
                ContendedAcquire(c, resource + "-after");
                Thread.Sleep(200);
                lock (records)
                {
                    Console.WriteLine("AFTER-CLEAR " + (records.Count - atClear));
                }
            }
            else if (args[0] == "exit")
            {
                int calls = 0;
                RedleadLog.SetHandler(r => Interlocked.Increment(ref calls), RedleadLogLevel.Debug);
                ContendedAcquire(c, resource);
                using (RedleadLock l = c.TryAcquireAsync(resource + "-async", TimeSpan.FromSeconds(5)).Result)
                {
                    Console.WriteLine("ASYNC-HELD " + (l != null && l.IsHeld));
                }
                Console.WriteLine("LOGGED " + Eventually(() => Volatile.Read(ref calls) > 0));
            }
            else
            {
                int calls = 0;
                RedleadLog.SetHandler(r => { Interlocked.Increment(ref calls); throw new Exception("log handler boom"); },
                    RedleadLogLevel.Debug);
                ContendedAcquire(c, resource);
                ContendedAcquire(c, resource);
                using (RedleadLock l = c.TryAcquire(resource + "-works", TimeSpan.FromSeconds(5)))
                {
                    Console.WriteLine("STILL-WORKS " + (l != null && l.IsHeld));
                }
                Eventually(() => Volatile.Read(ref calls) > 1);
                RedleadLog.Clear();
                Console.WriteLine("CALLS " + Volatile.Read(ref calls));
            }
        }
        Console.WriteLine("DONE");
        Console.Out.Flush();
        return 0;
    }
}
