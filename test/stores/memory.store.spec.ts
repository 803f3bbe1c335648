import { MemoryStore } from '@app/session';
import { runStoreContract } from './store-contract';

describe('MemoryStore honours the store contract', () => {
  runStoreContract({
    create: () => Promise.resolve(new MemoryStore()),
    cleanup: (store) => store.close?.() ?? Promise.resolve(),
    expiryResolutionMs: 50,
  });
});
