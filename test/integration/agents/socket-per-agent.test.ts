/**
 * One token's `sub` holds at most AGENT_SOCKETS_PER_AGENT open agent sockets on an instance: the
 * next is refused (4429) once its token verified, with a log line naming the actor (never the
 * sub) and a count; another agent is unaffected, and a socket closed frees its place.
 */
import fs from 'node:fs';
import { metricValue, startHarness, waitFor, type Harness } from '../../support/harness';
import { AgentSocket, makeFlowsDir, token } from '../../support/agents';

const SUB = 'agent-7790@example.com';
const PER_AGENT = 2;

let h: Harness;
let flowsDir: string;

beforeAll(async () => {
  flowsDir = makeFlowsDir();
  h = await startHarness({ store: 'embedded', flowsDir, env: { AGENT_SOCKETS_PER_AGENT: String(PER_AGENT) } });
});

afterAll(async () => {
  await h?.close();
  fs.rmSync(flowsDir, { recursive: true, force: true });
});

/** a socket authenticated with `tok`: open (answered a probe), or the close the service sent */
async function attempt(tok: string): Promise<{ open: AgentSocket } | { closed: { code: number; reason: string } }> {
  const s = await AgentSocket.open(h);
  s.send({ type: 'auth', token: tok });
  s.send({ type: 'probe' });
  let closed: { code: number; reason: string } | undefined;
  void s.closed.then((c) => (closed = c));
  const answered = () => s.events.some((e) => e.type === 'error' && e.message === 'malformed message');
  await waitFor(() => closed !== undefined || answered(), 'auth processed or the socket closed');
  return answered() ? { open: s } : { closed: closed! };
}

function refusedLines(): Record<string, unknown>[] {
  return h.logs.lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === 'agent socket refused' && l.reason === 'per-agent-limit');
}

it("refuses a sub's socket past AGENT_SOCKETS_PER_AGENT, logged by actor and counted; another agent's and a freed place are served", async () => {
  const tok = token(h, SUB, 'agent', 'client:desk');
  const held = await Promise.all([AgentSocket.open(h, tok), AgentSocket.open(h, tok)]);
  try {
    // the next, with the same token or another of the same sub, is refused
    expect(await attempt(tok)).toEqual({ closed: { code: 4429, reason: 'too many sockets for this agent' } });
    expect(await attempt(token(h, SUB, 'agent', 'client:desk'))).toMatchObject({ closed: { code: 4429 } });
    expect(held.every((s) => s.isOpen)).toBe(true);

    const actor = h.app.services.audit.actor({ role: 'agent', sub: SUB });
    expect(refusedLines()).toEqual([
      expect.objectContaining({ actor, role: 'agent', limit: PER_AGENT }),
      expect.objectContaining({ actor, role: 'agent', limit: PER_AGENT }),
    ]);
    expect(await metricValue(h, 'tonewall_agent_sockets_refused_total', { reason: 'per-agent-limit' })).toBe(2);
    for (const part of [SUB, 'agent-7790', 'example.com']) expect(h.logs.text).not.toContain(part);

    // another agent is not counted against this one
    const other = await attempt(token(h, 'agent-7791@example.com'));
    expect(other).toHaveProperty('open');
    if ('open' in other) other.open.close();

    // a socket closed frees its place
    held[0].close();
    await held[0].closed;
    const again = await waitFor(async () => {
      const r = await attempt(tok);
      return 'open' in r ? r.open : null;
    }, 'a socket in the freed place');
    again.close();
  } finally {
    for (const s of held) s.close();
  }
}, 30_000);
