/** A real node:http server playing a processor: records every request, answers as told. */
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseProcessors, type ProcessorConfig } from '../../src/processors';
import { CONNECTOR_ENV, genericPayProcessor } from './generic-pay-gateway';

export interface Received {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  at: number;
}

export interface Gateway {
  url: string;
  received: Received[];
  /** decides the answer to the n-th request (1-based) to a path */
  answer: (
    n: number,
    req: Received,
  ) => {
    status: number;
    body?: unknown;
    delayMs?: number;
    /** the answer is held until this settles (a test releases it when it chooses) */
    until?: Promise<unknown>;
    /** sent as is instead of JSON of `body` */ raw?: string;
  };
  close(): Promise<void>;
}

export async function startGateway(): Promise<Gateway> {
  const counts = new Map<string, number>();
  const gw: Gateway = {
    url: '',
    received: [],
    answer: () => ({ status: 200, body: { ok: true } }),
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const rec: Received = { path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), at: Date.now() };
      gw.received.push(rec);
      const n = (counts.get(rec.path) ?? 0) + 1;
      counts.set(rec.path, n);
      const a = gw.answer(n, rec);
      const send = () => {
        res.writeHead(a.status, { 'content-type': 'application/json' });
        res.end(a.raw ?? (a.body === undefined ? '' : JSON.stringify(a.body)));
      };
      if (a.until) void a.until.then(send, send);
      else if (a.delayMs) setTimeout(send, a.delayMs);
      else send();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  gw.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return gw;
}

export async function waitFor(cond: () => boolean, ms = 15_000, stepMs = 20): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

/**
 * A PROCESSORS_FILE naming `gw` as the one processor `gateway` (its secret from GATEWAY_SECRET):
 * charged at `/charge` with `fields`, erasures forwarded to `/erase`. Its path, in a directory of its own.
 */
export function gatewayProcessorsFile(gw: Gateway, fields: readonly string[]): string {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'tw-processors-')), 'processors.yaml');
  fs.writeFileSync(
    file,
    `processors:\n  - name: gateway\n    url: ${gw.url}/charge\n    secretEnv: GATEWAY_SECRET\n    fields: [${fields.join(', ')}]\n    eraseUrl: ${gw.url}/erase\n`,
  );
  return file;
}

/** the erasure key of chargerProcessors' `charger` (its CHARGER_SECRET) */
export const CHARGER_SECRET = 'charger-erasure-key-0123456789abcdef';

/**
 * `gw` as one twilio-generic-pay processor, `charger`: card, expiry and cvv charged 12.50 at
 * `/pay` with Basic credentials, erasures forwarded to `/erase` signed with CHARGER_SECRET.
 */
export function chargerProcessors(gw: Gateway): ProcessorConfig[] {
  return parseProcessors(
    'p.yaml',
    'processors:\n' +
      genericPayProcessor('charger', gw, {
        fields: '[card, expiry, cvv]',
        method: 'charge',
        amount: '"12.50"',
        eraseUrl: `${gw.url}/erase`,
        secretEnv: 'CHARGER_SECRET',
      }),
    { ...CONNECTOR_ENV, CHARGER_SECRET },
  );
}

/** for each test, a gateway of its own (closed after the test) and chargerProcessors naming it, read once beforeEach ran */
export function eachChargerGateway(): { gw: Gateway; processors: ProcessorConfig[] } {
  const charger = {} as { gw: Gateway; processors: ProcessorConfig[] };
  beforeEach(async () => {
    charger.gw = await startGateway();
    charger.processors = chargerProcessors(charger.gw);
  });
  afterEach(async () => {
    await charger.gw?.close();
  });
  return charger;
}
