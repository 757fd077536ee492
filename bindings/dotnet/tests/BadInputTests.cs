using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using NUnit.Framework;

namespace Redlead.Tests
{
    /// <summary>Bad input gives InvalidArgumentException with a message naming what was wrong; nothing is sent.</summary>
    [TestFixture]
    [Timeout(60000)]
    public class BadInputTests
    {
        private static InvalidArgumentException Invalid(TestDelegate call, string mentions)
        {
            var e = Assert.Throws<InvalidArgumentException>(call);
            Console.WriteLine("rejected: " + e.Message);
            Assert.AreEqual(RedleadStatus.InvalidArgument, e.Status);
            Assert.IsNotEmpty(e.Message);
            StringAssert.Contains(mentions, e.Message, "the message names the parameter");
            Assert.IsEmpty(e.NodeOutcomes, "nothing was sent");
            return e;
        }

        [Test]
        public void NodeUrls_NullEmptyNullEntryOrMalformed_AreRejected()
        {
            Invalid(() => new RedleadClient((IList<string>)null), "node_count");
            Invalid(() => new RedleadClient(new string[0]), "node_count");
            Invalid(() => new RedleadClient(Setup.Nodes.Urls[0], null, Setup.Nodes.Urls[1]), "node_urls[1]");
            Invalid(() => new RedleadClient("http://127.0.0.1:1"), "http");
            Invalid(() => new RedleadClient(Setup.Nodes.Urls[0] + "\0x"), "NUL");
        }

        [Test]
        public async Task Ttl_Zero_IsRejected_ByEveryAcquire()
        {
            using (RedleadClient c = T.Client())
            {
                string r = T.Resource("ttl0");
                Invalid(() => c.TryAcquire(r, TimeSpan.Zero), "ttl");
                Invalid(() => c.Acquire(r, TimeSpan.Zero, TimeSpan.FromSeconds(1)), "ttl");
                Invalid(() => c.TryAcquire(r, TimeSpan.FromMilliseconds(-5)), "ttl");
                Invalid(() => c.Acquire(r, TimeSpan.FromSeconds(1), Timeout.InfiniteTimeSpan), "wait");
                Invalid(() => c.TryAcquire(r, TimeSpan.FromDays(2)), "ttl");

                Task<RedleadLock> t = c.AcquireAsync(r, TimeSpan.Zero, TimeSpan.FromSeconds(1));
                Exception e = null;
                try
                {
                    await t;
                }
                catch (Exception ex)
                {
                    e = ex;
                }
                Assert.IsTrue(t.IsFaulted, "a bad argument arrives through the Task");
                Assert.IsInstanceOf<InvalidArgumentException>(e);
                StringAssert.Contains("ttl", e.Message);
                Assert.AreEqual(0, T.NodesWithKey(r));

                using (RedleadLock l = c.TryAcquire(r, TimeSpan.FromSeconds(5)))
                {
                    Invalid(() => l.Extend(TimeSpan.Zero), "ttl");
                }
            }
        }

        [Test]
        public void Resource_NullOrEmpty_IsRejected()
        {
            using (RedleadClient c = T.Client())
            {
                Invalid(() => c.TryAcquire(null, TimeSpan.FromSeconds(1)), "resource");
                Invalid(() => c.TryAcquire("", TimeSpan.FromSeconds(1)), "resource");
                Invalid(() => c.Holder(null), "resource");
                Invalid(() => c.TryAcquire("a\0b", TimeSpan.FromSeconds(1)), "NUL");
                Invalid(() => c.TryAcquire("\ud800", TimeSpan.FromSeconds(1)), "surrogate");
            }
        }

        [Test]
        public void Options_OutOfRange_AreRejected_NamingTheField()
        {
            Invalid(() => T.Client(new RedleadClientOptions { NodeTimeout = TimeSpan.Zero }), "node_timeout");
            Invalid(() => T.Client(new RedleadClientOptions { DriftFactor = 0.9 }), "drift");
            Invalid(() => T.Client(new RedleadClientOptions { RetryCount = -1 }), "RetryCount");
            Invalid(() => T.Client(new RedleadClientOptions { TlsRootCaPem = "not a pem" }), "PEM");
            using (RedleadClient c = T.Client())
            {
                Invalid(() => c.TryAcquire(T.Resource("opt"), TimeSpan.FromSeconds(1), new LockOptions { Owner = "" }), "owner");
                Invalid(() => c.TryAcquire(T.Resource("opt"), TimeSpan.FromSeconds(1),
                    new LockOptions { AutoExtend = new AutoExtendOptions() }), "cap");
            }
        }

        [Test]
        public void Election_BadInput_IsRejected_AtStart()
        {
            using (RedleadClient c = T.Client())
            {
                Invalid(() => c.CreateElection(T.Resource("el"), null).Start(), "candidate_id");
                Invalid(() => c.CreateElection(T.Resource("el"), "").Start(), "candidate");
                Invalid(() => c.CreateElection(null, "a").Start(), "resource");
                Invalid(() => c.CreateElection(T.Resource("el"), "a", new ElectionOptions { Ttl = TimeSpan.Zero }).Start(), "ttl");
                Invalid(() => new RedleadElection(null, T.Resource("el"), "a").Start(), "client");
                RedleadElection e = c.CreateElection(T.Resource("el"), "a");
                Assert.Throws<InvalidOperationException>(() => e.Leader(), "not started");
                e.Dispose();
            }
        }

        [Test]
        public void LogHandler_Null_IsRejected()
        {
            Invalid(() => RedleadLog.SetHandler(null), "handler");
        }
    }
}
