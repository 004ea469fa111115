/**
 * Issue 11 item 2: a processor's answer is read with a byte cap while it streams in. A processor
 * that never stops sending must not hold the delivery until the request timeout nor fill memory.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { MAX_ANSWER_BYTES, postSigned } from '../../../src/processors/http';

interface Endless {
  url: string;
  written: () => number;
  closedByClient: Promise<void>;
  close(): Promise<void>;
}

/** answers 200 and sends JSON-looking bytes every few milliseconds until the client goes away */
async function endless(headers: Record<string, string> = {}): Promise<Endless> {
  let written = 0;
  let closed!: () => void;
  const closedByClient = new Promise<void>((r) => (closed = r));
  const timers = new Set<NodeJS.Timeout>();
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json', ...headers });
      res.write('{"approved": true, "pad": "');
      const t = setInterval(() => {
        const chunk = 'x'.repeat(4096);
        written += chunk.length;
        res.write(chunk);
      }, 2);
      timers.add(t);
      res.on('close', () => {
        clearInterval(t);
        closed();
      });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/charge`,
    written: () => written,
    closedByClient,
    close: async () => {
      for (const t of timers) clearInterval(t);
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

describe('postSigned reads answers with a byte cap', () => {
  test('an endless answer is cut off at the cap, at once, and the connection closed', async () => {
    const p = await endless();
    try {
      // the answer never ends: the post resolves only because it stopped reading at the cap
      const out = await postSigned(fetch, p.url, '{}', 'secret', 'idem');
      expect(out).toEqual({ ok: true, status: 200, body: undefined });
      await p.closedByClient;
      // the server stops being read right after the cap (socket buffers allow some slack)
      expect(p.written()).toBeLessThan(MAX_ANSWER_BYTES + 2 * 1024 * 1024);
    } finally {
      await p.close();
    }
  });

  test('an answer that declares more than the cap is not read at all', async () => {
    const p = await endless({ 'content-length': String(10 * 1024 * 1024) });
    try {
      const out = await postSigned(fetch, p.url, '{}', 'secret', 'idem');
      expect(out).toEqual({ ok: true, status: 200, body: undefined });
      await p.closedByClient;
    } finally {
      await p.close();
    }
  });
});
