import { MemoryOutputCacheStore } from '../../lib/index.js';
import { describeOutputCacheStore } from '../../lib/testing.js';

describeOutputCacheStore('memory', {
  create: () => new MemoryOutputCacheStore({ maxBytes: 64 * 1024 * 1024 }),
  capabilities: ['syncRead', 'softEviction'],
});
