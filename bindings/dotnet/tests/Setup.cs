using System;
using System.Diagnostics;
using System.Threading;
using NUnit.Framework;

namespace Redlead.Tests
{
    /// <summary>Three redis-server nodes for the whole run (each test uses its own resource names).</summary>
    [SetUpFixture]
    public class Setup
    {
        public static RedisNodes Nodes { get; private set; }

        [SetUp]
        public void StartNodes()
        {
            Nodes = new RedisNodes(3);
            Console.WriteLine("redis-server nodes on ports " + string.Join(", ", Nodes.Ports));
        }

        [TearDown]
        public void StopNodes()
        {
            if (Nodes != null)
            {
                Nodes.Dispose();
            }
        }
    }

    internal static class T
    {
        private static int counter;

        /// <summary>A resource name no other test uses.</summary>
        public static string Resource(string what)
        {
            return what + "-" + Interlocked.Increment(ref counter) + "-" + Guid.NewGuid().ToString("N").Substring(0, 8);
        }

        public static RedleadClient Client(RedleadClientOptions options = null)
        {
            return new RedleadClient(Setup.Nodes.Urls, options);
        }

        /// <summary>Fast retries, so waiting acquires in tests do not sleep 200-300 ms between attempts.</summary>
        public static RedleadClientOptions FastRetry()
        {
            return new RedleadClientOptions
            {
                RetryDelay = TimeSpan.FromMilliseconds(5),
                RetryJitter = TimeSpan.FromMilliseconds(10),
            };
        }

        /// <summary>Polls <paramref name="condition"/> until true or <paramref name="within"/> passed.</summary>
        public static bool Eventually(Func<bool> condition, TimeSpan within)
        {
            var sw = Stopwatch.StartNew();
            while (sw.Elapsed < within)
            {
                if (condition())
                {
                    return true;
                }
                Thread.Sleep(10);
            }
            return condition();
        }

        /// <summary>How many nodes hold the key of <paramref name="resource"/> (raw EXISTS, outside the library).</summary>
        public static int NodesWithKey(string resource)
        {
            int n = 0;
            foreach (int port in Setup.Nodes.Ports)
            {
                if (RedisNodes.Command(port, "EXISTS", "redlead:{" + resource + "}") == "1")
                {
                    n++;
                }
            }
            return n;
        }
    }
}
