import { MemoryOutputCacheStore } from '../../lib/index.js';
import { describeStoreContract } from './store-contract.js';

describeStoreContract(
  'memory',
  async () => ({
    store: new MemoryOutputCacheStore({ maxBytes: 64 * 1024 * 1024 }),
    close: async () => undefined,
  }),
  { keepsBytes: false, softEviction: true },
);
