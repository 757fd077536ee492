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

        /// <summary>
        /// Runs LogProbe.exe (tests/LogProbe) until it prints DONE, and checks that
        /// it then exits by itself, soon: Mono waits at exit for every native
        /// thread that ran managed code, so without the binding's exit hook a
        /// process that set a log handler would never exit (the log thread) and
        /// one that made an async call would exit 10 s late (idle callback threads).
        /// A process of its own also keeps the handler out of this one.
        /// </summary>
        private static List<string> Probe(string mode)
        {
            using (var p = new ExampleTests.Example("LogProbe " + mode, "LogProbe.exe", new[] { mode }.Concat(Setup.Nodes.Urls)))
            {
                Assert.IsTrue(T.Eventually(() => p.Lines.Contains("DONE"), TimeSpan.FromSeconds(30)), p.Dump());
                var sw = System.Diagnostics.Stopwatch.StartNew();
                Assert.IsTrue(p.WaitForExit(5000), "exits by itself within 5 s of DONE\n" + p.Dump());
                Console.WriteLine(p.Dump() + "\n  (exited " + sw.ElapsedMilliseconds + " ms after DONE)");
                Assert.AreEqual(0, p.Process.ExitCode, p.Dump());
                return p.Lines.ToList();
            }
        }

        [Test]
        public void Process_WithALogHandlerAndAnAsyncCall_ExitsPromptly()
        {
            List<string> lines = Probe("exit");
            CollectionAssert.Contains(lines, "ASYNC-HELD True");
            CollectionAssert.Contains(lines, "LOGGED True", "the handler ran, so the log thread entered managed code");
        }

        [Test]
        public void LogHandler_ReceivesLibraryRecords_AndNoneAfterClear()
        {
            List<string> lines = Probe("records");
            CollectionAssert.Contains(lines, "ARRIVED True", "the core's DEBUG record 'acquire failed' arrived");
            string record = lines.First(l => l.StartsWith("RECORD ") && l.Contains("acquire failed"));
            string[] parts = record.Split(' ');
            Assert.AreEqual(((int)RedleadLogLevel.Debug).ToString(), parts[1], "its level is Debug");
            StringAssert.StartsWith("redlead", parts[2], "its target names the module");
            CollectionAssert.Contains(lines, "AFTER-CLEAR 0", "no record after Clear");
        }

        [Test]
        public void LogHandler_ThatThrows_IsContained()
        {
            List<string> lines = Probe("throwing");
            CollectionAssert.Contains(lines, "STILL-WORKS True", "the library works on after the handler threw");
            int calls = int.Parse(lines.Single(l => l.StartsWith("CALLS ")).Substring(6));
            Assert.That(calls, Is.GreaterThan(1), "called again after throwing");
            Assert.IsTrue(lines.Any(l => l.Contains("log handler boom") && l.StartsWith("stderr: ")),
                "the exception was reported on standard error, not propagated");
        }
    }
}
