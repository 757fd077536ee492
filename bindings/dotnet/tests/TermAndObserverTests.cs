using System;
using System.Collections.Concurrent;
using System.Threading;
using System.Threading.Tasks;
using NUnit.Framework;

namespace Redlead.Tests
{
    /// <summary>Work scoped to a term (RunWhileLeaderAsync), and observing without campaigning.</summary>
    [TestFixture]
    [Timeout(60000)]
    public class TermAndObserverTests
    {
        private static ElectionOptions Fast()
        {
            return new ElectionOptions
            {
                Ttl = TimeSpan.FromMilliseconds(1500),
                RetryInterval = TimeSpan.FromMilliseconds(100),
            };
        }

        [Test]
        public void RunWhileLeader_TokenIsCancelledWhenTheTermEnds()
        {
            string r = T.Resource("terms");
            using (RedleadClient client = T.Client())
            using (RedleadElection a = client.CreateElection(r, "a", Fast()))
            {
                a.Start();
                var started = new TaskCompletionSource<ulong>();
                bool cancelledInWork = false;
                Task run = a.RunWhileLeaderAsync(async (term, token) =>
                {
                    started.TrySetResult(term);
                    try
                    {
                        await Task.Delay(Timeout.Infinite, token);
                    }
                    catch (OperationCanceledException)
                    {
                        cancelledInWork = true;
                    }
                });
                Assert.IsTrue(started.Task.Wait(TimeSpan.FromSeconds(5)), "a leads and runs the work");
                ulong t = started.Task.Result;
                Assert.AreEqual(a.Term, t, "the work gets the current term");
                Assert.IsTrue(a.Resign(), "resigned");
                Assert.IsTrue(run.Wait(TimeSpan.FromSeconds(2)), "the work ended with its term");
                Assert.IsTrue(cancelledInWork, "the work saw its token cancelled");
                Console.WriteLine("term " + t + " ended by resign; the work's token was cancelled");
            }
        }

        [Test]
        public void RunWhileLeader_CancelledBeforeLeadingOrAfterDispose()
        {
            string r = T.Resource("terms-wait");
            using (RedleadClient client = T.Client())
            using (RedleadElection a = client.CreateElection(r, "a", Fast()))
            using (RedleadElection b = client.CreateElection(r, "b", Fast()))
            {
                a.Start();
                Assert.IsTrue(T.Eventually(() => a.IsLeader, TimeSpan.FromSeconds(5)), "a leads");
                b.Start();
                using (var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(150)))
                {
                    Task waiting = b.RunWhileLeaderAsync((term, token) => Task.FromResult(0), cts.Token);
                    var e = Assert.Throws<AggregateException>(() => waiting.Wait(TimeSpan.FromSeconds(3)));
                    Assert.IsInstanceOf<OperationCanceledException>(e.InnerException, "canceled before leading");
                }
                Task afterDispose = b.RunWhileLeaderAsync((term, token) => Task.FromResult(0));
                b.Dispose();
                var d = Assert.Throws<AggregateException>(() => afterDispose.Wait(TimeSpan.FromSeconds(3)));
                Assert.IsInstanceOf<ObjectDisposedException>(d.InnerException, "a disposed election ends the wait");
            }
        }

        [Test]
        public void Observer_FollowsTheHolderAQuorumAgreesOn()
        {
            string r = T.Resource("observed");
            using (RedleadClient client = T.Client())
            {
                RedleadLock held = client.TryAcquire(r, TimeSpan.FromSeconds(5), new LockOptions { Owner = "cs-obs-a" });
                Assert.IsNotNull(held);
                var seen = new BlockingCollection<string>();
                // A poll interval far longer than the test: only the first poll and the
                // release announcement can explain what it sees.
                RedleadObserver observer = client.CreateObserver(r, TimeSpan.FromMinutes(10));
                observer.Changed += (s, e) => seen.Add(e.LeaderId ?? "(none)");
                observer.Start();
                Assert.AreEqual("cs-obs-a", observer.Leader, "the leader at start");
                string first;
                Assert.IsTrue(seen.TryTake(out first, TimeSpan.FromSeconds(2)), "the first change");
                Assert.AreEqual("cs-obs-a", first);
                held.Release();
                string next;
                Assert.IsTrue(seen.TryTake(out next, TimeSpan.FromSeconds(2)), "the release seen");
                Assert.AreEqual("(none)", next);
                Assert.IsNull(observer.Leader);
                observer.Dispose();
                observer.Dispose();
                Assert.IsNull(observer.Leader, "disposed: no leader");
                held.Dispose();
            }
        }

        [Test]
        public void Observer_BadInputAndDisposeFromItsOwnHandler()
        {
            using (RedleadClient client = T.Client())
            {
                Assert.Throws<InvalidArgumentException>(() => client.CreateObserver("").Start());
                RedleadObserver observer = client.CreateObserver(T.Resource("observed-dispose"));
                var disposedInHandler = new ManualResetEventSlim();
                observer.Changed += (s, e) =>
                {
                    observer.Dispose(); // completes on the thread pool, never deadlocks
                    disposedInHandler.Set();
                };
                observer.Start();
                Assert.IsTrue(disposedInHandler.Wait(TimeSpan.FromSeconds(2)), "the handler ran and disposed");
                Assert.IsTrue(T.Eventually(() => observer.Leader == null, TimeSpan.FromSeconds(2)));
                Assert.Throws<ObjectDisposedException>(() => observer.Start());
            }
        }
    }
}
