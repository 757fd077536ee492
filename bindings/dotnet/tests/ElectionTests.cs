using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Threading;
using NUnit.Framework;

namespace Redlead.Tests
{
    [TestFixture]
    [Timeout(90000)]
    public class ElectionTests
    {
        /// <summary>One candidate with its own client, recording its events.</summary>
        private sealed class Candidate : IDisposable
        {
            public readonly RedleadClient Client;
            public readonly RedleadElection Election;
            public readonly ConcurrentQueue<string> Events = new ConcurrentQueue<string>();
            public readonly List<ulong> ElectedTerms = new List<ulong>();
            public volatile string ObservedLeader;
            public CancellationToken Leadership;

            public Candidate(string resource, string id, ElectionOptions options)
            {
                Client = T.Client();
                Election = Client.CreateElection(resource, id, options);
                Election.Elected += (s, e) =>
                {
                    lock (ElectedTerms)
                    {
                        ElectedTerms.Add(e.Term);
                    }
                    Leadership = e.Leadership;
                    Events.Enqueue("elected " + e.Term);
                };
                Election.Revoked += (s, e) => Events.Enqueue("revoked " + e.Term + " " + e.Reason);
                Election.LeaderChanged += (s, e) =>
                {
                    ObservedLeader = e.LeaderId;
                    Events.Enqueue("leader " + (e.LeaderId ?? "(none)"));
                };
            }

            public string Id
            {
                get { return Election.CandidateId; }
            }

            public void Dispose()
            {
                Election.Dispose();
                Client.Dispose();
            }
        }

        private static ElectionOptions Fast()
        {
            return new ElectionOptions
            {
                Ttl = TimeSpan.FromMilliseconds(1500),
                RetryInterval = TimeSpan.FromMilliseconds(100),
            };
        }

        [Test]
        public void Election_ElectsOneOfThree_AndFailsOverWhenTheLeaderDisposes()
        {
            string r = T.Resource("election");
            var candidates = new[] { "a", "b", "c" }.Select(id => new Candidate(r, id, Fast())).ToList();
            try
            {
                candidates.ForEach(c => c.Election.Start());
                Assert.IsTrue(T.Eventually(() => candidates.Count(c => c.Election.IsLeader) == 1, TimeSpan.FromSeconds(10)),
                    "one leader within 10 s");
                Thread.Sleep(300); // let followers observe it
                Assert.AreEqual(1, candidates.Count(c => c.Election.IsLeader), "still exactly one leader");
                Candidate leader = candidates.Single(c => c.Election.IsLeader);
                ulong term = leader.Election.Term;
                Console.WriteLine("leader " + leader.Id + " term " + term);
                Assert.That(term, Is.GreaterThan(0UL));
                CollectionAssert.AreEqual(new[] { term }, leader.ElectedTerms, "Elected raised once, with the term");
                foreach (Candidate c in candidates)
                {
                    Assert.AreEqual(leader.Id, c.Election.Leader(), c.Id + " asks the nodes who leads");
                    if (c != leader)
                    {
                        Assert.IsTrue(T.Eventually(() => c.ObservedLeader == leader.Id, TimeSpan.FromSeconds(3)),
                            c.Id + " saw LeaderChanged(" + leader.Id + "): " + string.Join(", ", c.Events));
                        Assert.AreEqual(0UL, c.Election.Term, "a follower has no term");
                    }
                }

                CancellationToken leadership = leader.Leadership;
                var sw = Stopwatch.StartNew();
                leader.Dispose();
                candidates.Remove(leader);
                Console.WriteLine("disposed leader " + leader.Id + ": " + string.Join(", ", leader.Events));
                Assert.IsTrue(leadership.IsCancellationRequested, "its Leadership token was cancelled");
                CollectionAssert.Contains(leader.Events, "revoked " + term + " Stopped", "Revoked(Stopped) before Dispose returned");

                Assert.IsTrue(T.Eventually(() => candidates.Count(c => c.Election.IsLeader) == 1, TimeSpan.FromSeconds(10)),
                    "a new leader within 10 s");
                Candidate next = candidates.Single(c => c.Election.IsLeader);
                Console.WriteLine("new leader " + next.Id + " term " + next.Election.Term + " after " + sw.ElapsedMilliseconds + " ms");
                Assert.That(next.Election.Term, Is.GreaterThan(term), "the new term fences the old one");
                Assert.That(sw.Elapsed, Is.LessThan(TimeSpan.FromMilliseconds(1500)),
                    "a resigned leader is replaced before its ttl would have run out");
                Assert.IsFalse(leader.Election.IsLeader, "disposed: answers false");
            }
            finally
            {
                candidates.ForEach(c => c.Dispose());
            }
        }

        [Test]
        public void ThrowingHandlers_DoNotBreakTheElection()
        {
            string r = T.Resource("throwing");
            var failures = new ConcurrentQueue<ElectionHandlerFailedEventArgs>();
            int secondHandlerCalls = 0;
            var elected = new SemaphoreSlim(0);
            var revoked = new SemaphoreSlim(0);
            using (RedleadClient c = T.Client())
            using (RedleadElection e = c.CreateElection(r, "thrower", Fast()))
            {
                e.Elected += (s, a) => { throw new InvalidOperationException("boom in Elected"); };
                e.Elected += (s, a) => { Interlocked.Increment(ref secondHandlerCalls); elected.Release(); };
                e.Revoked += (s, a) => { revoked.Release(); throw new ApplicationException("boom in Revoked"); };
                e.LeaderChanged += (s, a) => { throw new Exception("boom in LeaderChanged"); };
                e.HandlerFailed += (s, a) => failures.Enqueue(a);
                e.Start();

                Assert.IsTrue(elected.Wait(TimeSpan.FromSeconds(10)), "elected despite the throwing handler");
                Assert.IsTrue(e.IsLeader);
                Assert.AreEqual(1, secondHandlerCalls, "the handler after the throwing one still ran");
                Assert.IsTrue(e.Resign(), "resign ends the leadership");
                Assert.IsTrue(revoked.Wait(TimeSpan.FromSeconds(5)), "Revoked delivered after a throwing Elected");
                Assert.IsTrue(elected.Wait(TimeSpan.FromSeconds(10)), "the campaign went on: elected again");
                Assert.AreEqual(2, secondHandlerCalls);
                Assert.IsTrue(e.IsHealthy);

                List<string> names = failures.Select(f => f.EventName).ToList();
                Console.WriteLine("HandlerFailed: " + string.Join(", ", failures.Select(f => f.EventName + ": " + f.Exception.Message)));
                CollectionAssert.Contains(names, "Elected");
                CollectionAssert.Contains(names, "Revoked");
                CollectionAssert.Contains(names, "LeaderChanged");
                Assert.IsTrue(failures.Any(f => f.Exception is InvalidOperationException && f.Exception.Message == "boom in Elected"));
            }
        }

        [Test]
        public void HandlerFailed_ItselfThrowing_IsContained()
        {
            string r = T.Resource("throwing2");
            var elected = new ManualResetEventSlim();
            using (RedleadClient c = T.Client())
            using (RedleadElection e = c.CreateElection(r, "x", Fast()))
            {
                e.Elected += (s, a) => { throw new Exception("first"); };
                e.HandlerFailed += (s, a) => { elected.Set(); throw new Exception("second, from HandlerFailed"); };
                e.Start();
                Assert.IsTrue(elected.Wait(TimeSpan.FromSeconds(10)));
                Assert.IsTrue(T.Eventually(() => e.IsLeader, TimeSpan.FromSeconds(2)), "still leading");
                Assert.IsTrue(e.Resign());
            }
        }

        [Test]
        public void Resign_HandsOver_AndReturnsWhetherItEndedALeadership()
        {
            string r = T.Resource("resign");
            using (var a = new Candidate(r, "a", Fast()))
            {
                a.Election.Start();
                Assert.IsTrue(T.Eventually(() => a.Election.IsLeader, TimeSpan.FromSeconds(10)));
                using (var b = new Candidate(r, "b", Fast()))
                {
                    b.Election.Start();
                    Assert.IsTrue(T.Eventually(() => b.ObservedLeader == "a", TimeSpan.FromSeconds(5)));
                    CancellationToken leadership = a.Leadership;
                    Assert.IsTrue(a.Election.Resign());
                    Assert.IsTrue(leadership.IsCancellationRequested || T.Eventually(() => leadership.IsCancellationRequested, TimeSpan.FromSeconds(2)));
                    Assert.IsTrue(T.Eventually(() => b.Election.IsLeader, TimeSpan.FromSeconds(5)), "b takes over");
                    Assert.IsFalse(a.Election.Resign(), "not leading: resign is a no-op");
                    Assert.IsTrue(a.Events.Any(ev => ev.StartsWith("revoked") && ev.EndsWith("Resigned")), string.Join(", ", a.Events));
                    Assert.AreEqual("b", a.Election.Leader());
                }
            }
        }

        [Test]
        public void LeaderWhoseKeyVanishes_StepsDown_AndOneLeaderFollowsWithAHigherTerm()
        {
            string r = T.Resource("vanish");
            using (var a = new Candidate(r, "a", Fast()))
            using (var b = new Candidate(r, "b", Fast()))
            {
                a.Election.Start();
                Assert.IsTrue(T.Eventually(() => a.Election.IsLeader, TimeSpan.FromSeconds(10)));
                b.Election.Start();
                Assert.IsTrue(T.Eventually(() => b.ObservedLeader == "a", TimeSpan.FromSeconds(5)), string.Join(", ", b.Events));
                ulong term = a.Election.Term;
                foreach (int port in Setup.Nodes.Ports)
                {
                    RedisNodes.Command(port, "DEL", "redlead:{" + r + "}");
                }
                Console.WriteLine("deleted the leader's key (term " + term + ") on every node");
                Assert.IsTrue(T.Eventually(() => a.Events.Any(e => e.StartsWith("revoked " + term + " ")), TimeSpan.FromSeconds(5)),
                    "a is told it no longer leads term " + term + ": " + string.Join(", ", a.Events));
                Assert.IsTrue(T.Eventually(() => (a.Election.IsLeader ? 1 : 0) + (b.Election.IsLeader ? 1 : 0) == 1
                        && Math.Max(a.Election.Term, b.Election.Term) > term, TimeSpan.FromSeconds(10)),
                    "one leader again, in a later term: a " + string.Join(", ", a.Events) + " / b " + string.Join(", ", b.Events));
                Console.WriteLine("a: " + string.Join(", ", a.Events) + "; b: " + string.Join(", ", b.Events));
            }
        }

        [Test]
        public void Dispose_FromInsideItsOwnHandler_StopsTheElection()
        {
            string r = T.Resource("self-dispose");
            var revoked = new ManualResetEventSlim();
            using (RedleadClient c = T.Client())
            {
                RedleadElection e = c.CreateElection(r, "self", Fast());
                e.Elected += (s, a) => ((RedleadElection)s).Dispose();
                e.Revoked += (s, a) => { if (a.Reason == RevokeReason.Stopped) revoked.Set(); };
                e.Start();
                Assert.IsTrue(revoked.Wait(TimeSpan.FromSeconds(10)), "stopped after its handler returned");
                Assert.IsFalse(e.IsLeader);
                using (RedleadElection other = c.CreateElection(r, "other", Fast()))
                {
                    other.Start();
                    Assert.IsTrue(T.Eventually(() => other.IsLeader, TimeSpan.FromSeconds(5)), "the resource is free for another");
                }
            }
        }

        [Test]
        public void Election_DisposeTwice_IsSafe_AndAccessorsAnswerZero()
        {
            using (RedleadClient c = T.Client())
            {
                RedleadElection e = c.CreateElection(T.Resource("dispose2"), "d", Fast());
                e.Start();
                Assert.IsTrue(T.Eventually(() => e.IsLeader, TimeSpan.FromSeconds(10)));
                Assert.Throws<InvalidOperationException>(() => e.Start(), "started twice");
                e.Dispose();
                e.Dispose();
                Assert.IsFalse(e.IsLeader);
                Assert.AreEqual(0UL, e.Term);
                Assert.Throws<ObjectDisposedException>(() => e.Resign());
            }
        }
    }
}
