// The C# door of scripts/bench.sh: unfenced try-acquire + release of one
// resource through the C# binding, on nodes the runner started, printing one
// line per variant:
//   BENCH dotnet-sync n=<N> p50_us=<x> p99_us=<y>    TryAcquire + Release (blocking)
//   BENCH dotnet-async n=<N> p50_us=<x> p99_us=<y>   TryAcquireAsync + ReleaseAsync
// Env: BENCH_URLS (comma-separated redis:// URLs), BENCH_N (default 3000).
// Percentiles are picked as door_rust.rs picks them (xs[n/2], xs[n*0.99]),
// so the lines compare with the Rust door's in the same table.
using System;
using System.Diagnostics;
using System.Globalization;
using System.Threading.Tasks;
using Redlead;

internal static class Bench
{
    private const string Resource = "bench-dotnet";
    private const int WarmUp = 200;
    private static readonly TimeSpan Ttl = TimeSpan.FromSeconds(10);

    private static int Main()
    {
        string urls = Environment.GetEnvironmentVariable("BENCH_URLS");
        if (string.IsNullOrEmpty(urls))
        {
            Console.Error.WriteLine("BENCH_URLS=redis://host:port,... is required");
            return 2;
        }
        int n = 3000;
        string nText = Environment.GetEnvironmentVariable("BENCH_N");
        if (!string.IsNullOrEmpty(nText) && (!int.TryParse(nText, out n) || n < 1))
        {
            Console.Error.WriteLine("BENCH_N must be a positive integer, got " + nText);
            return 2;
        }
        try
        {
            using (var client = new RedleadClient(urls.Split(',')))
            {
                Report("dotnet-sync", Measure(n, () => Sync(client)));
                Report("dotnet-async", Measure(n, () => Async(client).GetAwaiter().GetResult()));
            }
            return 0;
        }
        catch (RedleadException e)
        {
            Console.Error.WriteLine("bench failed: " + e.Message);
            return 1;
        }
    }

    private static void Sync(RedleadClient client)
    {
        using (RedleadLock l = client.TryAcquire(Resource, Ttl))
        {
            if (l == null)
            {
                throw new RedleadException(Resource + " is held elsewhere: the bench needs it free");
            }
            l.Release();
        }
    }

    private static async Task Async(RedleadClient client)
    {
        using (RedleadLock l = await client.TryAcquireAsync(Resource, Ttl))
        {
            if (l == null)
            {
                throw new RedleadException(Resource + " is held elsewhere: the bench needs it free");
            }
            await l.ReleaseAsync();
        }
    }

    /// <summary>Microseconds of each of <paramref name="n"/> calls, after the warm-up.</summary>
    private static double[] Measure(int n, Action once)
    {
        for (int i = 0; i < WarmUp; i++)
        {
            once();
        }
        var xs = new double[n];
        var sw = new Stopwatch();
        for (int i = 0; i < n; i++)
        {
            sw.Restart();
            once();
            sw.Stop();
            xs[i] = sw.ElapsedTicks * 1e6 / Stopwatch.Frequency;
        }
        return xs;
    }

    private static void Report(string door, double[] xs)
    {
        Array.Sort(xs);
        int n = xs.Length;
        Console.WriteLine(string.Format(CultureInfo.InvariantCulture, "BENCH {0} n={1} p50_us={2:F1} p99_us={3:F1}",
            door, n, xs[n / 2], xs[Math.Min(n - 1, (int)(n * 0.99))]));
    }
}
