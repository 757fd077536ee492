using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.RegularExpressions;
using System.Threading;
using NUnit.Framework;

namespace Redlead.Tests
{
    /// <summary>The binding's copies of the header's numbers (enums, ABI version) match include/redlead.h.</summary>
    [TestFixture]
    [Timeout(60000)]
    public class AbiTests
    {
        private static string headerText;

        private static string HeaderText()
        {
            if (headerText == null)
            {
                string path = Environment.GetEnvironmentVariable("REDLEAD_HEADER");
                Assert.IsNotNull(path, "REDLEAD_HEADER names include/redlead.h (run-tests.sh sets it)");
                headerText = File.ReadAllText(path);
            }
            return headerText;
        }

        /// <summary>The enumerators of <c>typedef enum NAME { ... } NAME;</c> in the header.</summary>
        private static Dictionary<string, long> HeaderEnum(string name)
        {
            Match block = Regex.Match(HeaderText(), @"typedef enum " + name + @" \{(.*?)\} " + name + ";", RegexOptions.Singleline);
            Assert.IsTrue(block.Success, "enum " + name + " found in the header");
            var d = new Dictionary<string, long>();
            foreach (Match m in Regex.Matches(block.Groups[1].Value, @"^\s*(REDLEAD_[A-Z0-9_]+) = (\d+),?\s*$", RegexOptions.Multiline))
            {
                d[m.Groups[1].Value] = long.Parse(m.Groups[2].Value);
            }
            return d;
        }

        private static long HeaderDefine(string name)
        {
            Match m = Regex.Match(HeaderText(), @"^#define " + name + @" (\d+)\s*$", RegexOptions.Multiline);
            Assert.IsTrue(m.Success, name + " defined in the header");
            return long.Parse(m.Groups[1].Value);
        }

        private static string Snake(string pascal)
        {
            return Regex.Replace(pascal, "(?<=[a-z0-9])([A-Z])", "_$1").ToUpperInvariant();
        }

        private static void EnumMatches<TEnum>(string cName, Func<string, string> rename)
        {
            Dictionary<string, long> header = HeaderEnum(cName);
            Assert.IsNotEmpty(header);
            var mine = Enum.GetValues(typeof(TEnum)).Cast<object>().ToDictionary(
                v => rename(v.ToString()), v => Convert.ToInt64(v));
            CollectionAssert.AreEquivalent(header, mine, typeof(TEnum).Name + " equals the header's " + cName);
        }

        [Test]
        public void Enums_EqualTheHeader()
        {
            EnumMatches<RedleadStatus>("redlead_status", n =>
                n == "Ok" || n == "NotAcquired" || n == "Lost" ? "REDLEAD_" + Snake(n) : "REDLEAD_ERR_" + Snake(n));
            EnumMatches<NodeOutcomeKind>("redlead_outcome", n => "REDLEAD_OUTCOME_" + Snake(n));
            EnumMatches<RevokeReason>("redlead_revoke_reason", n => "REDLEAD_REVOKE_" + Snake(n));
            EnumMatches<RedleadLogLevel>("redlead_log_level", n => "REDLEAD_LOG_" + Snake(n));
        }

        [Test]
        public void AbiAndVersion_EqualTheLoadedLibrary()
        {
            Assert.AreEqual(HeaderDefine("REDLEAD_ABI_VERSION"), (long)RedleadClient.AbiVersion, "binding vs header");
            Assert.AreEqual(RedleadClient.AbiVersion, RedleadClient.NativeAbiVersion, "binding vs loaded library");
            string v = HeaderDefine("REDLEAD_VERSION_MAJOR") + "." + HeaderDefine("REDLEAD_VERSION_MINOR") + "." + HeaderDefine("REDLEAD_VERSION_PATCH");
            Assert.AreEqual(v, RedleadClient.NativeVersion);
        }

        /// <summary>A failed acquire: the core logs "acquire failed" at DEBUG.</summary>
        private static void ContendedAcquire(string what)
        {
            string r = T.Resource(what);
            using (RedleadClient c = T.Client())
            using (RedleadLock held = c.TryAcquire(r, TimeSpan.FromSeconds(5)))
            {
                Assert.IsNull(c.TryAcquire(r, TimeSpan.FromSeconds(5)));
            }
        }

        [Test]
        public void LogHandler_ReceivesLibraryRecords_AndNoneAfterClear()
        {
            var records = new List<RedleadLogRecord>();
            RedleadLog.SetHandler(rec => { lock (records) records.Add(rec); }, RedleadLogLevel.Debug);
            try
            {
                ContendedAcquire("log");
                Assert.IsTrue(T.Eventually(() => { lock (records) return records.Any(x => x.Message.Contains("acquire failed")); },
                    TimeSpan.FromSeconds(5)), "the core's DEBUG record 'acquire failed' arrived");
            }
            finally
            {
                RedleadLog.Clear();
            }
            RedleadLogRecord first;
            int count;
            lock (records)
            {
                first = records.First(x => x.Message.Contains("acquire failed"));
                count = records.Count;
            }
            Console.WriteLine(count + " records, first: " + first);
            StringAssert.StartsWith("redlead", first.Target);
            Assert.AreEqual(RedleadLogLevel.Debug, first.Level);

            ContendedAcquire("log-after");
            Thread.Sleep(100);
            lock (records)
            {
                Assert.AreEqual(count, records.Count, "no record after Clear");
            }
        }

        [Test]
        public void LogHandler_ThatThrows_IsContained()
        {
            int calls = 0;
            RedleadLog.SetHandler(rec => { Interlocked.Increment(ref calls); throw new Exception("log handler boom"); },
                RedleadLogLevel.Debug);
            try
            {
                ContendedAcquire("log-throw");
                ContendedAcquire("log-throw");
                using (RedleadClient c = T.Client())
                using (RedleadLock l = c.TryAcquire(T.Resource("log-throw"), TimeSpan.FromSeconds(5)))
                {
                    Assert.IsTrue(l.IsHeld, "the library works on");
                }
                Assert.IsTrue(T.Eventually(() => Volatile.Read(ref calls) > 1, TimeSpan.FromSeconds(5)), "called again after throwing");
            }
            finally
            {
                RedleadLog.Clear();
            }
        }
    }
}
