using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using NUnit.Framework;

namespace Redlead.Tests
{
    [TestFixture]
    [Timeout(60000)]
    public class LockTests
    {
        [Test]
        public void Lock_RoundTrip_HoldsThenFreesTheResource()
        {
            string r = T.Resource("roundtrip");
            using (RedleadClient c = T.Client())
            {
                RedleadLock l = c.TryAcquire(r, TimeSpan.FromSeconds(10));
                Assert.IsNotNull(l, "a free resource is acquired");
                Assert.IsTrue(l.IsHeld);
                Assert.AreEqual(r, l.Resource);
                Assert.That(l.Validity, Is.GreaterThan(TimeSpan.FromSeconds(9)).And.LessThanOrEqualTo(TimeSpan.FromSeconds(10)));
                Assert.AreEqual(3, T.NodesWithKey(r), "the key is on every node");
                Assert.IsTrue(c.Holder(r).IsHeld);

                l.Release();
                Assert.IsFalse(l.IsHeld, "not held after release");
                Assert.AreEqual(TimeSpan.Zero, l.Validity);
                Assert.AreEqual(0, T.NodesWithKey(r), "release removed the key from every node");
                Assert.IsFalse(c.Holder(r).IsHeld);
                l.Dispose();
            }
        }

        [Test]
        public async Task SecondClient_IsExcluded_WhileTheLockIsHeld_WithPerNodeOutcomes()
        {
            string r = T.Resource("exclusion");
            using (RedleadClient a = T.Client())
            using (RedleadClient b = T.Client(T.FastRetry()))
            {
                using (RedleadLock held = a.TryAcquire(r, TimeSpan.FromSeconds(10)))
                {
                    Assert.IsNotNull(held);
                    Assert.IsNull(b.TryAcquire(r, TimeSpan.FromSeconds(10)), "TryAcquire: null while held elsewhere");
                    Assert.IsNull(await b.TryAcquireAsync(r, TimeSpan.FromSeconds(10)), "TryAcquireAsync: null while held");

                    var sw = Stopwatch.StartNew();
                    var e = Assert.Throws<NotAcquiredException>(() => b.Acquire(r, TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(300)));
                    Console.WriteLine("Acquire while held: " + e.Message + " after " + sw.ElapsedMilliseconds + " ms");
                    Assert.That(sw.Elapsed, Is.GreaterThanOrEqualTo(TimeSpan.FromMilliseconds(250)), "it waited");
                    Assert.AreEqual(RedleadStatus.NotAcquired, e.Status);
                    Assert.AreEqual(3, e.NodeOutcomes.Count, "one outcome per node");
                    Assert.That(e.NodeOutcomes.Count(o => o.Outcome == NodeOutcomeKind.Held), Is.GreaterThanOrEqualTo(2),
                        "a quorum answered 'held': " + string.Join("; ", e.NodeOutcomes));
                    Assert.That(e.NodeOutcomes.All(o => o.Node.StartsWith("127.0.0.1:")), string.Join("; ", e.NodeOutcomes));

                    Exception async = null;
                    try
                    {
                        await b.AcquireAsync(r, TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(100));
                    }
                    catch (Exception ex)
                    {
                        async = ex;
                    }
                    Assert.IsInstanceOf<NotAcquiredException>(async, "AcquireAsync faults with NotAcquiredException");
                }
                // Dispose released it: the other client gets it at once.
                using (RedleadLock l = b.TryAcquire(r, TimeSpan.FromSeconds(10)))
                {
                    Assert.IsNotNull(l, "free again after the holder's Dispose");
                }
            }
        }

        [Test]
        public void MutualExclusion_FourClients_NoLostUpdate()
        {
            string r = T.Resource("mutex");
            const int threads = 4, rounds = 8;
            int counter = 0, inside = 0, maxInside = 0;
            var errors = new List<Exception>();
            var workers = Enumerable.Range(0, threads).Select(i => new Thread(() =>
            {
                try
                {
                    using (RedleadClient c = T.Client(T.FastRetry()))
                    {
                        for (int k = 0; k < rounds; k++)
                        {
                            using (RedleadLock l = c.Acquire(r, TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(20)))
                            {
                                int now = Interlocked.Increment(ref inside);
                                InterlockedMax(ref maxInside, now);
                                int read = Volatile.Read(ref counter); // a plain read-modify-write, made
                                Thread.Sleep(2);                       // racy on purpose: only the lock
                                Volatile.Write(ref counter, read + 1); // prevents lost updates
                                Interlocked.Decrement(ref inside);
                            }
                        }
                    }
                }
                catch (Exception e)
                {
                    lock (errors)
                    {
                        errors.Add(e);
                    }
                }
            })).ToList();
            workers.ForEach(w => w.Start());
            workers.ForEach(w => w.Join());
            Assert.IsEmpty(errors, string.Join("\n", errors));
            Console.WriteLine("counter " + counter + " of " + threads * rounds + ", most holders at once " + maxInside);
            Assert.AreEqual(threads * rounds, counter, "no lost update");
            Assert.AreEqual(1, maxInside, "never two holders at once");
        }

        [Test]
        public void FencingTokens_StrictlyIncrease_AcrossClients()
        {
            string r = T.Resource("fencing");
            var fenced = new LockOptions { Fenced = true };
            using (RedleadClient a = T.Client())
            using (RedleadClient b = T.Client())
            {
                var tokens = new List<ulong>();
                for (int i = 0; i < 6; i++)
                {
                    using (RedleadLock l = (i % 2 == 0 ? a : b).TryAcquire(r, TimeSpan.FromSeconds(5), fenced))
                    {
                        Assert.IsNotNull(l);
                        tokens.Add(l.FencingToken);
                    }
                }
                Console.WriteLine("tokens: " + string.Join(", ", tokens));
                Assert.That(tokens[0], Is.GreaterThanOrEqualTo(1UL), "tokens start at 1");
                for (int i = 1; i < tokens.Count; i++)
                {
                    Assert.That(tokens[i], Is.GreaterThan(tokens[i - 1]), "token " + i + " > token " + (i - 1));
                }
                using (RedleadLock unfenced = a.TryAcquire(r, TimeSpan.FromSeconds(5)))
                {
                    Assert.AreEqual(0UL, unfenced.FencingToken, "an unfenced lock has token 0");
                }
            }
        }

        [Test]
        public async Task AcquireAsync_Cancelled_EndsTheWaitAtOnce_AndLeavesNoKey()
        {
            string r = T.Resource("cancel-async");
            using (RedleadClient a = T.Client())
            using (RedleadClient b = T.Client(T.FastRetry()))
            {
                RedleadLock held = a.TryAcquire(r, TimeSpan.FromSeconds(10));
                var cts = new CancellationTokenSource();
                Task<RedleadLock> waiting = b.AcquireAsync(r, TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(30), null, cts.Token);
                await Task.Delay(200);
                Assert.IsFalse(waiting.IsCompleted, "still waiting while held");
                var sw = Stopwatch.StartNew();
                cts.Cancel();
                Exception caught = null;
                try
                {
                    await waiting;
                }
                catch (Exception e)
                {
                    caught = e;
                }
                Console.WriteLine("cancelled 200 ms into a 30 s wait; the Task ended " + sw.ElapsedMilliseconds + " ms after Cancel()");
                Assert.IsInstanceOf<OperationCanceledException>(caught);
                Assert.IsTrue(waiting.IsCanceled, "the Task is Canceled, not Faulted");
                Assert.AreEqual(cts.Token, ((OperationCanceledException)caught).CancellationToken);
                Assert.That(sw.Elapsed, Is.LessThan(TimeSpan.FromSeconds(1)), "ends at once, not at the next retry or the wait");

                held.Release();
                held.Dispose();
                Thread.Sleep(100); // a cancelled attempt in flight finishes in the background
                Assert.AreEqual(0, T.NodesWithKey(r), "the cancelled acquire left no key on any node");
            }
        }

        [Test]
        public async Task AcquireAsync_CancelledAtRandomMoments_LeavesNoKey()
        {
            // The resource is free: each acquire may be cancelled before, during or
            // after its attempt; whatever it took must be released again.
            string r = T.Resource("cancel-random");
            var rnd = new Random(7);
            int cancelled = 0, acquired = 0;
            using (RedleadClient c = T.Client())
            {
                for (int i = 0; i < 20; i++)
                {
                    var cts = new CancellationTokenSource();
                    Task<RedleadLock> t = c.AcquireAsync(r, TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(1), null, cts.Token);
                    Thread.SpinWait(rnd.Next(0, 20000));
                    cts.Cancel();
                    try
                    {
                        RedleadLock l = await t;
                        acquired++;
                        l.Dispose();
                    }
                    catch (OperationCanceledException)
                    {
                        cancelled++;
                    }
                }
            }
            Console.WriteLine("20 acquires cancelled at random moments: " + cancelled + " cancelled, " + acquired + " completed first");
            Assert.AreEqual(20, cancelled + acquired);
            Assert.IsTrue(T.Eventually(() => T.NodesWithKey(r) == 0, TimeSpan.FromSeconds(2)), "no key left on any node");
        }

        [Test]
        public void Acquire_Blocking_CancellationTokenEndsTheWait()
        {
            string r = T.Resource("cancel-sync");
            using (RedleadClient a = T.Client())
            using (RedleadClient b = T.Client(T.FastRetry()))
            using (a.TryAcquire(r, TimeSpan.FromSeconds(10)))
            {
                var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));
                var sw = Stopwatch.StartNew();
                var e = Assert.Throws<OperationCanceledException>(() =>
                    b.Acquire(r, TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(30), null, cts.Token));
                Console.WriteLine("blocking Acquire cancelled after " + sw.ElapsedMilliseconds + " ms");
                Assert.AreEqual(cts.Token, e.CancellationToken);
                Assert.That(sw.Elapsed, Is.LessThan(TimeSpan.FromSeconds(2)));

                var already = new CancellationTokenSource();
                already.Cancel();
                Assert.Throws<OperationCanceledException>(() => b.Acquire(r, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1), null, already.Token));
                Assert.IsTrue(b.AcquireAsync(r, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1), null, already.Token).IsCanceled,
                    "an already-cancelled token gives a cancelled Task");
            }
        }

        [Test]
        public async Task Extend_And_Release_ReportTheLibraryOutcome()
        {
            string r = T.Resource("extend");
            using (RedleadClient c = T.Client())
            {
                RedleadLock l = c.TryAcquire(r, TimeSpan.FromSeconds(2));
                l.Extend(TimeSpan.FromSeconds(20));
                Assert.That(l.Validity, Is.GreaterThan(TimeSpan.FromSeconds(15)), "validity follows the extension");
                await l.ExtendAsync(TimeSpan.FromSeconds(30));
                Assert.That(l.Validity, Is.GreaterThan(TimeSpan.FromSeconds(25)));
                Assert.AreEqual(2, l.Extensions);

                await l.ReleaseAsync();
                Assert.IsFalse(l.IsHeld);
                var twice = Assert.Throws<ClosedException>(() => l.Release());
                Assert.AreEqual(RedleadStatus.Closed, twice.Status);
                Assert.Throws<ClosedException>(() => l.Extend(TimeSpan.FromSeconds(5)), "extend after release");
                l.Dispose();
                Assert.Throws<ObjectDisposedException>(() => l.Extend(TimeSpan.FromSeconds(5)), "extend after dispose");
            }
        }

        [Test]
        public void ExpiredLock_ExtendAndRelease_SayLost()
        {
            string r = T.Resource("expired");
            using (RedleadClient c = T.Client())
            {
                RedleadLock l = c.TryAcquire(r, TimeSpan.FromMilliseconds(300));
                Assert.IsNotNull(l);
                Thread.Sleep(500);
                Console.WriteLine("held for 500 ms a lock of 300 ms ttl");
                Assert.IsFalse(l.IsHeld, "not held past its validity");
                var e = Assert.Throws<LockLostException>(() => l.Extend(TimeSpan.FromSeconds(5)));
                Assert.AreEqual(RedleadStatus.Lost, e.Status);
                Assert.Throws<LockLostException>(() => l.Release(), "release of an expired lock says the section may have overlapped");
                l.Dispose();
            }
        }

        [Test]
        public void AutoExtend_KeepsTheLockPastItsTtl_ThenLostFiresAtTheCap()
        {
            string r = T.Resource("autoextend");
            using (RedleadClient c = T.Client())
            {
                var options = new LockOptions
                {
                    AutoExtend = new AutoExtendOptions { MaxExtensions = 3, Interval = TimeSpan.FromMilliseconds(200) },
                };
                using (RedleadLock l = c.TryAcquire(r, TimeSpan.FromMilliseconds(600), options))
                {
                    var lostAt = new TaskCompletionSource<TimeSpan>();
                    var sw = Stopwatch.StartNew();
                    l.Lost.Register(() => lostAt.TrySetResult(sw.Elapsed));
                    Thread.Sleep(900);
                    Assert.IsTrue(l.IsHeld, "held 900 ms into a 600 ms ttl thanks to auto-extension");
                    Assert.That(l.Extensions, Is.GreaterThanOrEqualTo(2));
                    Assert.IsTrue(lostAt.Task.Wait(TimeSpan.FromSeconds(5)), "Lost is cancelled once the cap is reached");
                    Console.WriteLine("auto-extended " + l.Extensions + " times, Lost at " + lostAt.Task.Result.TotalMilliseconds + " ms");
                    Assert.AreEqual(3, l.Extensions, "stopped at the cap");
                    Assert.IsFalse(l.IsHeld, "IsHeld is false when Lost fires");
                }
            }
        }

        /// <summary>DEL of the lock's key on every node, outside the library (another
        /// party, or a node restart without persistence).</summary>
        private static void DeleteKeyEverywhere(string key)
        {
            foreach (int port in Setup.Nodes.Ports)
            {
                RedisNodes.Command(port, "DEL", key);
            }
        }

        [Test]
        public void Lost_FiresWhenAQuorumSaysTheKeyIsGone_BeforeTheValidityEnds()
        {
            string r = T.Resource("lost-del");
            using (RedleadClient c = T.Client())
            {
                var options = new LockOptions
                {
                    AutoExtend = new AutoExtendOptions { MaxHold = TimeSpan.FromSeconds(60), Interval = TimeSpan.FromMilliseconds(100) },
                };
                using (RedleadLock l = c.TryAcquire(r, TimeSpan.FromSeconds(10), options))
                {
                    var lostAt = new TaskCompletionSource<TimeSpan>();
                    var sw = Stopwatch.StartNew();
                    l.Lost.Register(() => lostAt.TrySetResult(sw.Elapsed));
                    Thread.Sleep(300);
                    Assert.IsFalse(l.Lost.IsCancellationRequested, "not lost while the key is there");
                    DeleteKeyEverywhere("redlead:{" + r + "}");
                    Console.WriteLine("deleted redlead:{" + r + "} on every node at " + sw.ElapsedMilliseconds + " ms; validity left " + l.Validity);
                    Assert.IsTrue(lostAt.Task.Wait(TimeSpan.FromSeconds(5)), "Lost is cancelled once an extension finds the key gone");
                    Console.WriteLine("Lost at " + lostAt.Task.Result.TotalMilliseconds + " ms, long before the 10 s validity");
                    Assert.IsFalse(l.IsHeld, "IsHeld is false once lost");
                    // Known lost already: the library answers without asking the nodes again.
                    var e = Assert.Throws<LockLostException>(() => l.Extend(TimeSpan.FromSeconds(5)));
                    Console.WriteLine("Extend after Lost: " + e.Message);
                    Assert.AreEqual(0, T.NodesWithKey(r), "extend never re-creates an expired key");
                }
            }
        }

        [Test]
        public async Task DisposeAsync_ReleasesWithoutBlocking_AndUseAfterDisposeIsObjectDisposed()
        {
            string r = T.Resource("dispose-async");
            RedleadClient c = T.Client();
            RedleadLock l = await c.TryAcquireAsync(r, TimeSpan.FromSeconds(10), new LockOptions { Fenced = true });
            Assert.AreEqual(3, T.NodesWithKey(r));
            await l.DisposeAsync();
            Assert.AreEqual(0, T.NodesWithKey(r), "DisposeAsync released the lock on every node");
            await l.DisposeAsync();
            l.Dispose();
            Assert.IsFalse(l.IsHeld);
            Assert.AreEqual(0UL, l.FencingToken, "accessors answer zero, not crash");

            Assert.Throws<ObjectDisposedException>(() => l.Release());
            Assert.Throws<ObjectDisposedException>(() => { var unused = l.Lost; l.Extend(TimeSpan.FromSeconds(1)); });
            Task ext = l.ExtendAsync(TimeSpan.FromSeconds(1)), rel = l.ReleaseAsync();
            Assert.IsTrue(ext.IsFaulted && ext.Exception.InnerException is ObjectDisposedException, "ExtendAsync after dispose");
            Assert.IsTrue(rel.IsFaulted && rel.Exception.InnerException is ObjectDisposedException, "ReleaseAsync after dispose");

            c.Dispose();
            c.Dispose();
            Task<RedleadLock> acq = c.AcquireAsync(r, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));
            Assert.IsTrue(acq.IsFaulted && acq.Exception.InnerException is ObjectDisposedException, "AcquireAsync on a disposed client");
            Assert.Throws<ObjectDisposedException>(() => c.Holder(r));
            Assert.Throws<ObjectDisposedException>(() => c.Ping());
            Assert.Throws<ObjectDisposedException>(() => c.CreateElection(r, "x").Start());
        }

        [Test]
        public void Lost_IsNotCancelledByRelease()
        {
            string r = T.Resource("lost-release");
            using (RedleadClient c = T.Client())
            {
                RedleadLock l = c.TryAcquire(r, TimeSpan.FromSeconds(5));
                CancellationToken lost = l.Lost;
                l.Release();
                l.Dispose();
                Thread.Sleep(100);
                Assert.IsFalse(lost.IsCancellationRequested, "a released lock was not lost");
            }
        }

        [Test]
        public void Owner_IsVisibleThroughHolder()
        {
            string r = T.Resource("owner");
            using (RedleadClient c = T.Client())
            using (RedleadClient other = T.Client())
            {
                Assert.IsFalse(other.Holder(r).IsHeld);
                using (c.TryAcquire(r, TimeSpan.FromSeconds(5), new LockOptions { Owner = "worker-7 ✓" }))
                {
                    LockHolder h = other.Holder(r);
                    Assert.IsTrue(h.IsHeld);
                    Assert.AreEqual("worker-7 ✓", h.Owner, "non-ASCII owner survives the UTF-8 round trip");
                }
                using (c.TryAcquire(r, TimeSpan.FromSeconds(5)))
                {
                    LockHolder h = other.Holder(r);
                    Assert.IsTrue(h.IsHeld);
                    Assert.IsNull(h.Owner, "no label set");
                }
            }
        }

        [Test]
        public void Ping_AnswersOnePerNode()
        {
            using (RedleadClient c = T.Client())
            {
                IReadOnlyList<NodeOutcome> outcomes = c.Ping();
                Console.WriteLine(string.Join("; ", outcomes));
                Assert.AreEqual(3, outcomes.Count);
                Assert.That(outcomes.All(o => o.Outcome == NodeOutcomeKind.Ok));
                Assert.AreEqual("127.0.0.1:" + Setup.Nodes.Ports[0], outcomes[0].Node, "in URL order");
            }
            int dead = RedisNodes.FreePort();
            using (var c = new RedleadClient(Setup.Nodes.Urls[0], "redis://127.0.0.1:" + dead, Setup.Nodes.Urls[1]))
            {
                IReadOnlyList<NodeOutcome> outcomes = c.Ping();
                Console.WriteLine("with nothing on port " + dead + ": " + string.Join("; ", outcomes));
                Assert.AreEqual(NodeOutcomeKind.Ok, outcomes[0].Outcome);
                Assert.AreNotEqual(NodeOutcomeKind.Ok, outcomes[1].Outcome);
            }
        }

        [Test]
        public void NoQuorum_GivesConnectionException_WithOutcomes()
        {
            int p1 = RedisNodes.FreePort(), p2 = RedisNodes.FreePort();
            using (var c = new RedleadClient(Setup.Nodes.Urls[0], "redis://127.0.0.1:" + p1, "redis://127.0.0.1:" + p2))
            {
                var e = Assert.Throws<ConnectionException>(() => c.TryAcquire(T.Resource("noquorum"), TimeSpan.FromSeconds(5)));
                Console.WriteLine("2 of 3 nodes down: " + e.Message);
                Assert.AreEqual(3, e.NodeOutcomes.Count);
                Assert.That(e.NodeOutcomes.Count(o => o.Outcome == NodeOutcomeKind.Error || o.Outcome == NodeOutcomeKind.Timeout),
                    Is.GreaterThanOrEqualTo(2), string.Join("; ", e.NodeOutcomes));
            }
        }

        [Test]
        public void Lock_OutlivesItsClient()
        {
            string r = T.Resource("outlive");
            RedleadClient c = T.Client();
            RedleadLock l = c.TryAcquire(r, TimeSpan.FromSeconds(5));
            c.Dispose();
            Assert.IsTrue(l.IsHeld);
            l.Extend(TimeSpan.FromSeconds(5));
            l.Release();
            l.Dispose();
            Assert.AreEqual(0, T.NodesWithKey(r));
            Assert.Throws<ObjectDisposedException>(() => c.TryAcquire(r, TimeSpan.FromSeconds(5)), "a disposed client refuses");
        }

        [Test]
        public void DisposeTwice_IsSafe_AndAccessorsAnswerZero()
        {
            string r = T.Resource("dispose");
            RedleadClient c = T.Client();
            RedleadLock l = c.TryAcquire(r, TimeSpan.FromSeconds(5), new LockOptions { Fenced = true });
            l.Dispose();
            l.Dispose();
            Assert.IsFalse(l.IsHeld);
            Assert.AreEqual(0UL, l.FencingToken);
            Assert.AreEqual(TimeSpan.Zero, l.Validity);
            Assert.AreEqual(0, T.NodesWithKey(r), "Dispose released it");
            c.Dispose();
            c.Dispose();
            using (RedleadClient c2 = T.Client())
            {
                RedleadElection never = c2.CreateElection(T.Resource("dispose-el"), "a");
                never.Dispose(); // never started
                never.Dispose();
                Assert.IsFalse(never.IsLeader);
                Assert.Throws<ObjectDisposedException>(() => never.Start());
            }
        }

        [Test]
        public void AbandonedLocks_AreFreedByTheFinalizer_AndReleased()
        {
            string r = T.Resource("finalizer");
            using (RedleadClient c = T.Client())
            {
                Abandon(c, r);
                Assert.IsTrue(T.Eventually(() =>
                {
                    GC.Collect();
                    GC.WaitForPendingFinalizers();
                    return T.NodesWithKey(r) == 0;
                }, TimeSpan.FromSeconds(5)),
                    "the finalizer freed the lock and the library released it in the background");
            }
        }

        private static void Abandon(RedleadClient c, string r)
        {
            Assert.IsNotNull(c.TryAcquire(r, TimeSpan.FromSeconds(30)));
        }

        private static void InterlockedMax(ref int target, int value)
        {
            int seen;
            while ((seen = Volatile.Read(ref target)) < value && Interlocked.CompareExchange(ref target, value, seen) != seen)
            {
            }
        }
    }
}
