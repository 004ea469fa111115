/**
 * Loads every flow file in FLOWS_DIR at start. Flows are found by the Twilio number (`To`)
 * that was called; a number claimed by two flows is an error, as is any invalid file.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { FlowErrors, TonewallError } from '../errors';
import { flowSchema, type Flow } from './schema';

export class FlowRegistry {
  private readonly byNumberMap = new Map<string, Flow>();
  private readonly byIdMap = new Map<string, Flow>();

  constructor(flows: Flow[]) {
    for (const f of flows) {
      this.byIdMap.set(f.id, f);
      for (const n of f.numbers) this.byNumberMap.set(n, f);
    }
  }

  byNumber(to: string): Flow | undefined {
    return this.byNumberMap.get(to);
  }

  byId(id: string): Flow | undefined {
    return this.byIdMap.get(id);
  }

  get size(): number {
    return this.byIdMap.size;
  }

  all(): Flow[] {
    return [...this.byIdMap.values()];
  }
}

function invalid(file: string, where: string, reason: string): TonewallError {
  return new TonewallError(FlowErrors.invalid.code, `flow file ${file} is invalid at ${where || '(root)'}: ${reason}`);
}

export function parseFlow(file: string, text: string): Flow {
  let doc: unknown;
  try {
    doc = YAML.parse(text);
  } catch (e) {
    throw invalid(file, '(yaml)', (e as Error).message.split('\n')[0]);
  }
  const parsed = flowSchema.safeParse(doc);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw invalid(file, issue.path.join('.'), issue.message);
  }
  return parsed.data;
}

/**
 * A check of the edge's on a flow that parsed (twilio/document-size.ts: whether Twilio takes the
 * TwiML it can produce), which flows/ cannot make itself: where in the file it fails, and why.
 */
export type FlowCheck = (flow: Flow) => { where: string; reason: string } | undefined;

export function loadFlows(dir: string, check?: FlowCheck): FlowRegistry {
  let files: string[];
  try {
    files = readdirSync(dir)
      .filter((f) => /\.ya?ml$/.test(f))
      .sort();
  } catch (e) {
    throw new TonewallError(FlowErrors.invalid.code, `flows directory ${dir} cannot be read: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  const flows: Flow[] = [];
  const ids = new Map<string, string>();
  const numbers = new Map<string, string>();
  for (const f of files) {
    const file = path.join(dir, f);
    const flow = parseFlow(file, readFileSync(file, 'utf8'));
    const refused = check?.(flow);
    if (refused) throw invalid(file, refused.where, refused.reason);
    if (ids.has(flow.id)) throw invalid(file, 'id', `flow id ${flow.id} is also used by ${ids.get(flow.id)}`);
    ids.set(flow.id, file);
    for (const [i, n] of flow.numbers.entries()) {
      if (numbers.has(n)) throw invalid(file, `numbers.${i}`, `number is also claimed by ${numbers.get(n)}`);
      numbers.set(n, file);
    }
    flows.push(flow);
  }
  return new FlowRegistry(flows);
}
