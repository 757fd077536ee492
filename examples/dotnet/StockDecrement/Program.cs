// The RedLock.net "stock" demo on redlead: parallel requests each buy one
// item from a stock kept in a file, under the lock. Without the lock two
// requests read the same stock and both write stock - 1 (a lost update, or a
// stock below 0); with it every winner sees a different stock and the stock
// ends at exactly 0.
//
//   mono StockDecrement.exe --stock-file /tmp/stock --init 10 --requests 20 redis://127.0.0.1:6379 ...
//
// Several processes may share one stock file (start them without --init after
// one --init run): the lock is what keeps them apart, not anything in-process.
// The file also stores the fencing token of the last write, and refuses a
// write with an older token, as the storage behind a lock should.
// Exit code 0 when every request either won or found the stock sold out and
// no stock below 0 was ever seen; 1 otherwise.
using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Redlead;

internal static class Program
{
    private static int Main(string[] args)
    {
        var nodes = new List<string>();
        string stockFile = null, resource = "stock-demo", name = "pid" + Process.GetCurrentProcess().Id;
        int requests = 20, init = -1;
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--stock-file": stockFile = args[++i]; break;
                case "--resource": resource = args[++i]; break;
                case "--name": name = args[++i]; break;
                case "--requests": requests = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--init": init = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                default: nodes.Add(args[i]); break;
            }
        }
        if (stockFile == null || nodes.Count == 0)
        {
            Console.Error.WriteLine("usage: StockDecrement --stock-file PATH [--init N] [--requests N] [--resource R] [--name X] redis://host:port ...");
            return 2;
        }
        if (init >= 0)
        {
            StockFile.Write(stockFile, init, 0);
        }

        // Short retries: twenty contenders on one resource, each holding it for
        // tens of milliseconds; the default 200-300 ms between attempts would
        // mostly measure sleeping.
        var options = new RedleadClientOptions
        {
            RetryDelay = TimeSpan.FromMilliseconds(10),
            RetryJitter = TimeSpan.FromMilliseconds(40),
        };
        using (var client = new RedleadClient(nodes, options))
        {
            var sw = Stopwatch.StartNew();
            Task<Outcome>[] all = Enumerable.Range(1, requests)
                .Select(i => Task.Run(() => Request(client, resource, stockFile, name + "#" + i)))
                .ToArray();
            Task.WaitAll(all);
            Outcome[] outcomes = all.Select(t => t.Result).ToArray();

            int won = outcomes.Count(o => o.Won);
            int soldOut = outcomes.Count(o => o.SoldOut);
            int failed = outcomes.Count(o => o.Error != null);
            int minSeen = outcomes.Where(o => o.Error == null).Select(o => o.StockSeen).DefaultIfEmpty(0).Min();
            int final = StockFile.Read(stockFile).Stock;
            Console.WriteLine("winners: " + string.Join(", ", outcomes.Where(o => o.Won).OrderBy(o => o.Token).Select(o => o.Who)));
            Console.WriteLine(string.Format(CultureInfo.InvariantCulture,
                "SUMMARY name={0} requests={1} won={2} soldout={3} failed={4} min_stock_seen={5} final_stock={6} ms={7}",
                name, requests, won, soldOut, failed, minSeen, final, sw.ElapsedMilliseconds));
            return failed == 0 && minSeen >= 0 && final >= 0 ? 0 : 1;
        }
    }

    private sealed class Outcome
    {
        public string Who;
        public bool Won;
        public bool SoldOut;
        public int StockSeen;
        public ulong Token;
        public string Error;
    }

    private static async Task<Outcome> Request(RedleadClient client, string resource, string stockFile, string who)
    {
        var o = new Outcome { Who = who };
        var rnd = new Random(who.GetHashCode());
        try
        {
            // The article waits 1 s with a 5 s expiry; twenty requests queue
            // longer than a second here, so each may wait up to 30 s.
            using (RedleadLock l = await client.AcquireAsync(resource, TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(30),
                new LockOptions { Fenced = true, Owner = who }))
            {
                o.Token = l.FencingToken;
                StockFile.State s = StockFile.Read(stockFile);
                o.StockSeen = s.Stock;
                await Task.Delay(rnd.Next(5, 30)); // the business logic between read and write
                if (!l.IsHeld)
                {
                    // Past the safety margin another request may hold the lock:
                    // writing now could overwrite its result.
                    o.Error = "lock no longer safely held before the write";
                }
                else if (s.Stock > 0)
                {
                    StockFile.Write(stockFile, s.Stock - 1, l.FencingToken);
                    o.Won = true;
                }
                else
                {
                    o.SoldOut = true;
                }
                await l.ReleaseAsync();
            }
        }
        catch (Exception e)
        {
            o.Error = e.GetType().Name + ": " + e.Message;
        }
        Console.WriteLine(o.Error != null
            ? string.Format(CultureInfo.InvariantCulture, "{0}: FAILED {1}", who, o.Error)
            : o.Won
                ? string.Format(CultureInfo.InvariantCulture, "{0}: won, stock {1} -> {2}, token {3}", who, o.StockSeen, o.StockSeen - 1, o.Token)
                : string.Format(CultureInfo.InvariantCulture, "{0}: sold out (stock {1}), token {2}", who, o.StockSeen, o.Token));
        return o;
    }
}

/// <summary>"stock token" in a file: the protected resource, fenced by token.</summary>
internal static class StockFile
{
    internal struct State
    {
        public int Stock;
        public ulong Token;
    }

    internal static State Read(string path)
    {
        string[] parts = File.ReadAllText(path).Trim().Split(' ');
        return new State
        {
            Stock = int.Parse(parts[0], CultureInfo.InvariantCulture),
            Token = parts.Length > 1 ? ulong.Parse(parts[1], CultureInfo.InvariantCulture) : 0,
        };
    }

    /// <summary>Refuses a write older than the last one (token 0: the initial write).</summary>
    internal static void Write(string path, int stock, ulong token)
    {
        if (token != 0 && File.Exists(path) && Read(path).Token >= token)
        {
            throw new InvalidOperationException("stale fencing token " + token + " refused by the stock file");
        }
        // Whole file or nothing: a reader in another process never sees half a write.
        string tmp = path + "." + Process.GetCurrentProcess().Id + "." + Thread.CurrentThread.ManagedThreadId + ".tmp";
        File.WriteAllText(tmp, stock.ToString(CultureInfo.InvariantCulture) + " " + token.ToString(CultureInfo.InvariantCulture) + "\n");
        if (File.Exists(path))
        {
            File.Replace(tmp, path, null);
        }
        else
        {
            File.Move(tmp, path);
        }
    }
}
