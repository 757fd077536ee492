using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Threading;

namespace Redlead.Tests
{
    /// <summary>
    /// Real redis-server nodes on free loopback ports, each in its own temporary
    /// directory, stopped by pid. No persistence: a restarted node comes back empty.
    /// </summary>
    public sealed class RedisNodes : IDisposable
    {
        private readonly List<Process> processes = new List<Process>();
        private readonly List<string> dirs = new List<string>();

        public RedisNodes(int count)
        {
            Ports = new int[count];
            try
            {
                for (int i = 0; i < count; i++)
                {
                    Ports[i] = FreePort();
                    string dir = Path.Combine(Path.GetTempPath(), "redlead-dotnet-" + Guid.NewGuid().ToString("N"));
                    Directory.CreateDirectory(dir);
                    dirs.Add(dir);
                    var psi = new ProcessStartInfo("redis-server",
                        "--port " + Ports[i] + " --bind 127.0.0.1 --save \"\" --appendonly no --dir " + dir)
                    {
                        UseShellExecute = false,
                        RedirectStandardOutput = true,
                        RedirectStandardError = true,
                    };
                    Process p = Process.Start(psi);
                    p.OutputDataReceived += (s, e) => { };
                    p.ErrorDataReceived += (s, e) => { };
                    p.BeginOutputReadLine();
                    p.BeginErrorReadLine();
                    processes.Add(p);
                }
                foreach (int port in Ports)
                {
                    WaitReady(port);
                }
            }
            catch
            {
                Dispose();
                throw;
            }
        }

        public int[] Ports { get; private set; }

        public string[] Urls
        {
            get { return Ports.Select(p => "redis://127.0.0.1:" + p).ToArray(); }
        }

        /// <summary>A port nobody listens on now (bind :0, read it, close).</summary>
        public static int FreePort()
        {
            var l = new TcpListener(IPAddress.Loopback, 0);
            l.Start();
            int port = ((IPEndPoint)l.LocalEndpoint).Port;
            l.Stop();
            return port;
        }

        /// <summary>One raw RESP command to one node (for checks made outside the library).</summary>
        public static string Command(int port, params string[] args)
        {
            using (var tcp = new TcpClient())
            {
                tcp.Connect(IPAddress.Loopback, port);
                NetworkStream s = tcp.GetStream();
                var sb = new StringBuilder();
                sb.Append('*').Append(args.Length).Append("\r\n");
                foreach (string a in args)
                {
                    sb.Append('$').Append(Encoding.UTF8.GetByteCount(a)).Append("\r\n").Append(a).Append("\r\n");
                }
                byte[] req = Encoding.UTF8.GetBytes(sb.ToString());
                s.Write(req, 0, req.Length);
                var reader = new StreamReader(s, Encoding.UTF8);
                string line = reader.ReadLine();
                if (line == null)
                {
                    throw new IOException("no reply from port " + port);
                }
                switch (line[0])
                {
                    case '+':
                    case ':':
                        return line.Substring(1);
                    case '-':
                        throw new IOException("redis error: " + line);
                    case '$':
                        int n = int.Parse(line.Substring(1));
                        return n < 0 ? null : reader.ReadLine();
                    default:
                        throw new IOException("unexpected reply: " + line);
                }
            }
        }

        private static void WaitReady(int port)
        {
            var sw = Stopwatch.StartNew();
            Exception last = null;
            while (sw.Elapsed < TimeSpan.FromSeconds(10))
            {
                try
                {
                    if (Command(port, "PING") == "PONG")
                    {
                        return;
                    }
                }
                catch (Exception e)
                {
                    last = e;
                }
                Thread.Sleep(20);
            }
            throw new TimeoutException("redis-server on port " + port + " did not answer PING within 10 s", last);
        }

        public void Dispose()
        {
            foreach (Process p in processes)
            {
                try
                {
                    if (!p.HasExited)
                    {
                        p.Kill();
                        p.WaitForExit(5000);
                    }
                }
                catch (Exception)
                {
                }
            }
            processes.Clear();
            foreach (string d in dirs)
            {
                try
                {
                    Directory.Delete(d, true);
                }
                catch (Exception)
                {
                }
            }
            dirs.Clear();
        }
    }
}
