import Redis from 'ioredis';
import { randomBytes } from 'node:crypto';

export function redisUrl(): string {
  const url = process.env.REDIS_URL;
  if (!url) throw new Error('REDIS_URL is not set: the global setup should have started a redis-server');
  return url;
}

/** a key prefix no other test uses, so tests can share one Redis and scan only their own keys */
export function uniquePrefix(name: string): string {
  return `twtest:${name}:${randomBytes(4).toString('hex')}:`;
}

/** every key under the prefix with its TTL and its whole content as text, for leak and TTL scans */
export async function scanRedis(prefix: string): Promise<{ key: string; ttl: number; content: string }[]> {
  const r = new Redis(redisUrl());
  try {
    const out: { key: string; ttl: number; content: string }[] = [];
    let cursor = '0';
    do {
      const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      cursor = next;
      for (const key of keys) {
        const type = await r.type(key);
        const ttl = await r.ttl(key);
        let content = '';
        if (type === 'string') content = (await r.get(key)) ?? '';
        else if (type === 'set') content = (await r.smembers(key)).join('\n');
        else if (type === 'list') content = (await r.lrange(key, 0, -1)).join('\n');
        else if (type === 'hash') content = JSON.stringify(await r.hgetall(key));
        out.push({ key, ttl, content });
      }
    } while (cursor !== '0');
    return out;
  } finally {
    r.disconnect();
  }
}
