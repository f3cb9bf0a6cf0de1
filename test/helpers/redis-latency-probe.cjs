// Pings Redis every millisecond from its own process (so the test's own event loop does not
// distort the figures) until told to stop, then reports the slowest answers.
const { Redis } = require('ioredis');

const redis = new Redis(process.argv[2]);
const latencies = [];
let stopping = false;
process.on('message', () => {
  stopping = true;
});
redis.on('ready', async () => {
  process.send('ready');
  while (!stopping) {
    const started = process.hrtime.bigint();
    await redis.ping();
    latencies.push(Number(process.hrtime.bigint() - started) / 1e6);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  latencies.sort((a, b) => a - b);
  process.send({
    max: latencies[latencies.length - 1] ?? 0,
    p99: latencies[Math.floor(latencies.length * 0.99)] ?? 0,
    count: latencies.length,
  });
  redis.disconnect();
  process.disconnect();
});
