/**
 * Preloaded into each sample instance by the soak (`node --import .../memory-probe.js`): prints
 * the process's memory every 250 ms on stdout as `soak-memory {json}`, so that the soak reads
 * the V8 heap of the process itself without any route in the app.
 */
import { getHeapStatistics } from 'node:v8';

const timer = setInterval(() => {
  const { heapUsed, rss } = process.memoryUsage();
  const { heap_size_limit: heapLimit } = getHeapStatistics();
  process.stdout.write(`soak-memory ${JSON.stringify({ heapUsed, rss, heapLimit })}\n`);
}, 250);
timer.unref();
