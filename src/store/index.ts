import type { Logger } from 'pino';
import { EmbeddedStore } from './embedded';
import { RedisStore } from './redis';
import type { Store } from './types';

export type { CasRecord, Store, StoreOp, StoreRecord } from './types';
export { makeKeys, type Keys } from './keys';
export { EmbeddedStore } from './embedded';
export { RedisStore } from './redis';

/** REDIS_URL set: Redis, any number of instances. Unset: the embedded store, one instance only. */
export async function createStore(redisUrl: string | undefined, log: Logger): Promise<Store> {
  if (!redisUrl) {
    log.warn({ store: 'embedded' }, 'using the embedded in-process store: run one instance only');
    return new EmbeddedStore();
  }
  const store = new RedisStore(redisUrl);
  await store.connect();
  log.info({ store: 'redis' }, 'connected to redis');
  return store;
}
export { MessageSigner, MESSAGE_MAX_AGE_MS } from './signed-messages';
export { RecentValues, ownCopy } from './recent';
