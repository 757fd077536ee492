using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Text.RegularExpressions;
using System.Threading;
using NUnit.Framework;

namespace Redlead.Tests
{
    /// <summary>
    /// examples/dotnet run as separate processes (mono) on the test nodes: what
    /// they print is checked, and the files they protect are read afterwards.
    /// run-tests.sh builds them into REDLEAD_DOTNET_BUILD.
    /// </summary>
    [TestFixture]
    [Timeout(120000)]
    public class ExampleTests
    {
        /// <summary>One example process with its standard output collected line by line.</summary>
        internal sealed class Example : IDisposable
        {
            public readonly Process Process;
            public readonly ConcurrentQueue<string> Lines = new ConcurrentQueue<string>();
            public readonly string Name;

            public Example(string name, string exe, IEnumerable<string> args)
            {
                Name = name;
                string build = Environment.GetEnvironmentVariable("REDLEAD_DOTNET_BUILD");
                Assert.IsNotNull(build, "REDLEAD_DOTNET_BUILD names the build directory (run-tests.sh sets it)");
                string path = Path.Combine(build, exe);
                Assert.IsTrue(File.Exists(path), path + " was built");
                var psi = new ProcessStartInfo("mono", "--debug " + Quote(path) + " " + string.Join(" ", args.Select(Quote)))
                {
                    UseShellExecute = false,
                    RedirectStandardInput = true,
                    RedirectStandardOutput = true,
                    RedirectStandardError = true,
                };
                Process = Process.Start(psi);
                // A thread per stream, not BeginOutputReadLine: Mono serves those
                // reads from its thread pool, and with several children at once some
                // streams were not read at all for many seconds.
                readers = new[]
                {
                    Reader(Process.StandardOutput, ""),
                    Reader(Process.StandardError, "stderr: "),
                };
            }

            private readonly Thread[] readers;

            private Thread Reader(StreamReader from, string prefix)
            {
                var t = new Thread(() =>
                {
                    try
                    {
                        string line;
                        while ((line = from.ReadLine()) != null)
                        {
                            Lines.Enqueue(prefix + line);
                        }
                    }
                    catch (Exception)
                    {
                    }
                }) { IsBackground = true, Name = Name + " " + (prefix == "" ? "stdout" : "stderr") };
                t.Start();
                return t;
            }

            /// <summary>Waits for the exit and for every line the process wrote.</summary>
            public bool WaitForExit(int ms)
            {
                if (!Process.WaitForExit(ms))
                {
                    return false;
                }
                foreach (Thread t in readers)
                {
                    t.Join(5000);
                }
                return true;
            }

            public IEnumerable<string> Starting(string prefix)
            {
                return Lines.Where(l => l.StartsWith(prefix + " ", StringComparison.Ordinal));
            }

            public string Dump()
            {
                return Name + ":\n  " + string.Join("\n  ", Lines);
            }

            public void Dispose()
            {
                try
                {
                    if (!Process.HasExited)
                    {
                        Process.Kill();
                        Process.WaitForExit(5000);
                    }
                }
                catch (Exception)
                {
                }
            }

            private static string Quote(string s)
            {
                return "\"" + s.Replace("\"", "\\\"") + "\"";
            }
        }

        private static string TempFile(string what)
        {
            return Path.Combine(Path.GetTempPath(), "redlead-dotnet-" + what + "-" + Guid.NewGuid().ToString("N"));
        }

        private static ulong Term(string line)
        {
            return ulong.Parse(Regex.Match(line, @"term=(\d+)").Groups[1].Value);
        }

        [Test]
        public void LeaderElection_ThreeInstances_OneRunsTheJob_AKilledLeaderIsReplacedWithAHigherTerm()
        {
            string resource = T.Resource("daily-job");
            string journal = TempFile("journal");
            const int ttlMs = 2000;
            var instances = new[] { "a", "b", "c" }.Select(id => new Example(id, "LeaderElection.exe",
                new[] { "--id", id, "--resource", resource, "--journal", journal, "--ttl-ms", ttlMs.ToString(), "--job-every-ms", "100" }
                    .Concat(Setup.Nodes.Urls))).ToList();
            try
            {
                Func<string> dump = () => string.Join("\n", instances.Select(i => i.Dump()));
                Assert.IsTrue(T.Eventually(() => instances.All(i => i.Starting("READY").Any()), TimeSpan.FromSeconds(20)),
                    "three instances started:\n" + dump());
                Assert.IsTrue(T.Eventually(() => instances.Any(i => i.Starting("JOB").Any()), TimeSpan.FromSeconds(15)),
                    "one runs the job:\n" + dump());
                Thread.Sleep(1000); // long enough for a second leader, if there were one, to start its job
                List<Example> running = instances.Where(i => i.Starting("JOB").Any()).ToList();
                Assert.AreEqual(1, running.Count, "exactly one instance runs the job:\n" + dump());
                Assert.AreEqual(1, instances.Sum(i => i.Starting("ELECTED").Count()), "one election in all:\n" + dump());
                Example leader = running[0];
                ulong term = Term(leader.Starting("ELECTED").Single());
                Console.WriteLine("leader " + leader.Name + " term " + term + ", " + leader.Starting("JOB").Count() + " job runs");
                foreach (Example f in instances.Where(i => i != leader))
                {
                    Assert.IsTrue(T.Eventually(() => f.Starting("LEADER").Any(l => l.EndsWith(" sees " + leader.Name)), TimeSpan.FromSeconds(5)),
                        f.Name + " sees " + leader.Name + " lead:\n" + dump());
                }

                // SIGKILL: no resignation, no cleanup; the followers learn only
                // from the lease running out.
                var kill = Process.Start(new ProcessStartInfo("kill", "-KILL " + leader.Process.Id) { UseShellExecute = false });
                kill.WaitForExit();
                Assert.AreEqual(0, kill.ExitCode, "kill -KILL " + leader.Process.Id);
                Assert.IsTrue(leader.Process.WaitForExit(5000), "the leader died");
                var sw = Stopwatch.StartNew();
                Console.WriteLine("SIGKILL to leader " + leader.Name + " (pid " + leader.Process.Id + ")");

                List<Example> survivors = instances.Where(i => i != leader).ToList();
                Assert.IsTrue(T.Eventually(() => survivors.Any(i => i.Starting("JOB").Any()), TimeSpan.FromMilliseconds(ttlMs + 10000)),
                    "a survivor takes over the job:\n" + dump());
                Console.WriteLine("a survivor ran the job " + sw.ElapsedMilliseconds + " ms after the kill (lease " + ttlMs + " ms)");
                Thread.Sleep(500);
                List<Example> successors = survivors.Where(i => i.Starting("JOB").Any()).ToList();
                Assert.AreEqual(1, successors.Count, "exactly one successor runs the job:\n" + dump());
                Example next = successors[0];
                ulong nextTerm = Term(next.Starting("ELECTED").Single());
                Console.WriteLine("successor " + next.Name + " term " + nextTerm);
                Assert.That(nextTerm, Is.GreaterThan(term), "the successor's term fences the dead leader's");
                Assert.IsEmpty(instances.SelectMany(i => i.Starting("FENCED")), "no run was refused:\n" + dump());

                // Stdin closed: the successor resigns and the last one takes over at once.
                Example last = survivors.Single(i => i != next);
                next.Process.StandardInput.Close();
                Assert.IsTrue(next.WaitForExit(10000), "closing stdin stops an instance:\n" + dump());
                Assert.AreEqual(0, next.Process.ExitCode);
                CollectionAssert.Contains(next.Lines, "STOPPED " + next.Name);
                Assert.IsTrue(next.Starting("REVOKED").Any(l => l.EndsWith("reason=Stopped")), next.Dump());
                Assert.IsTrue(T.Eventually(() => last.Starting("JOB").Any(), TimeSpan.FromSeconds(5)),
                    "after a clean stop the last instance takes over well within a lease:\n" + dump());
                Assert.That(Term(last.Starting("ELECTED").Single()), Is.GreaterThan(nextTerm));
                last.Process.StandardInput.Close();
                Assert.IsTrue(last.WaitForExit(10000), last.Dump());

                // The journal, the job's own storage: each run carries its term, in order.
                string[] lines = File.ReadAllLines(journal).Where(l => l.Length > 0).ToArray();
                ulong[] terms = lines.Select(l => ulong.Parse(l.Split(' ')[0])).ToArray();
                for (int i = 1; i < terms.Length; i++)
                {
                    Assert.That(terms[i], Is.GreaterThanOrEqualTo(terms[i - 1]), "journal line " + i + " in term order");
                }
                Assert.IsTrue(lines.Where(l => l.Split(' ')[0] == term.ToString()).All(l => l.Split(' ')[1] == leader.Name),
                    "only " + leader.Name + " wrote in term " + term);
                Assert.IsTrue(lines.Any(l => l.Split(' ')[1] == next.Name && l.Split(' ')[0] == nextTerm.ToString()));
            }
            finally
            {
                instances.ForEach(i => i.Dispose());
                File.Delete(journal);
            }
        }

        private static readonly Regex Summary = new Regex(
            @"^SUMMARY name=(\S+) requests=(\d+) won=(\d+) soldout=(\d+) failed=(\d+) min_stock_seen=(-?\d+) final_stock=(-?\d+)");

        /// <summary>Runs StockDecrement processes at once on one stock file; returns their "won" lines.</summary>
        private static List<string> RunStock(string stockFile, string resource, int init, params int[] requestsPerProcess)
        {
            var procs = new List<Example>();
            try
            {
                for (int p = 0; p < requestsPerProcess.Length; p++)
                {
                    var args = new List<string> { "--stock-file", stockFile, "--resource", resource, "--name", "p" + p,
                        "--requests", requestsPerProcess[p].ToString() };
                    if (p == 0)
                    {
                        args.AddRange(new[] { "--init", init.ToString() });
                    }
                    args.AddRange(Setup.Nodes.Urls);
                    procs.Add(new Example("p" + p, "StockDecrement.exe", args));
                    if (p == 0)
                    {
                        // The others start once the first has written the initial stock.
                        Assert.IsTrue(T.Eventually(() => File.Exists(stockFile), TimeSpan.FromSeconds(20)), procs[0].Dump());
                    }
                }
                var won = new List<string>();
                int totalWon = 0, totalSoldOut = 0;
                foreach (Example p in procs)
                {
                    Assert.IsTrue(p.WaitForExit(60000), p.Dump());
                    Console.WriteLine(p.Dump());
                    Assert.AreEqual(0, p.Process.ExitCode, p.Dump());
                    Match m = p.Lines.Select(l => Summary.Match(l)).Single(x => x.Success);
                    Assert.AreEqual("0", m.Groups[5].Value, "no request failed");
                    Assert.That(int.Parse(m.Groups[6].Value), Is.GreaterThanOrEqualTo(0), "no request saw a stock below 0");
                    totalWon += int.Parse(m.Groups[3].Value);
                    totalSoldOut += int.Parse(m.Groups[4].Value);
                    won.AddRange(p.Lines.Where(l => l.Contains(": won, stock ")));
                }
                Assert.AreEqual(requestsPerProcess.Sum(), totalWon + totalSoldOut, "every request won or found it sold out");
                Assert.AreEqual(init, totalWon, "exactly the initial stock was sold");
                Assert.AreEqual("0", File.ReadAllText(stockFile).Split(' ')[0], "the stock ends at 0");
                return won;
            }
            finally
            {
                procs.ForEach(p => p.Dispose());
            }
        }

        private static void EveryWinnerSawADifferentStock(List<string> won, int init)
        {
            // A lost update shows as two winners reading the same stock.
            List<int> seen = won.Select(l => int.Parse(Regex.Match(l, @"won, stock (\d+) ->").Groups[1].Value)).OrderBy(x => x).ToList();
            CollectionAssert.AreEqual(Enumerable.Range(1, init).ToList(), seen, "the winners saw stock 1.." + init + " once each");
        }

        [Test]
        public void StockDecrement_TwentyParallelRequests_SellExactlyTheStockOfTen()
        {
            string stock = TempFile("stock");
            try
            {
                List<string> won = RunStock(stock, T.Resource("stock"), 10, 20);
                EveryWinnerSawADifferentStock(won, 10);
            }
            finally
            {
                File.Delete(stock);
            }
        }

        [Test]
        public void StockDecrement_TwoProcessesOnOneStock_NeverSellMoreThanIt()
        {
            string stock = TempFile("stock2");
            try
            {
                List<string> won = RunStock(stock, T.Resource("stock2"), 10, 10, 10);
                EveryWinnerSawADifferentStock(won, 10);
            }
            finally
            {
                File.Delete(stock);
            }
        }
    }
}
