// node-redlock 5 + ioredis on the same nodes (installed by scripts/bench.sh
// into a scratch folder from npm, never vendored). Prints `BENCH node-redlock ...`.
import Redis from "ioredis";
import Redlock from "redlock";

const urls = process.env.BENCH_URLS.split(",");
const n = Number(process.env.BENCH_N || 3000);
const clients = urls.map((u) => new Redis(u, { enableAutoPipelining: false }));
const redlock = new Redlock(clients, { retryCount: 0, driftFactor: 0.01 });

async function once() {
  const t = process.hrtime.bigint();
  const lock = await redlock.acquire(["bench-node"], 10000);
  await lock.release();
  return Number(process.hrtime.bigint() - t) / 1000;
}

for (let i = 0; i < 200; i++) await once();
const xs = [];
for (let i = 0; i < n; i++) xs.push(await once());
xs.sort((a, b) => a - b);
console.log(
  `BENCH node-redlock n=${n} p50_us=${xs[Math.floor(n / 2)].toFixed(1)} p99_us=${xs[Math.floor(n * 0.99)].toFixed(1)}`,
);
for (const c of clients) c.disconnect();
