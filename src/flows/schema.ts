/**
 * The flow file format (CONTRACT §3), parsed with zod. A file that does not validate stops the
 * service at start with the file, the path inside it and the reason.
 */
import { z } from 'zod';

import { FIELD_KINDS } from '../fields';

const sayStep = z.object({ say: z.string().min(1).max(4000) }).strict();

const collectStep = z
  .object({
    collect: z.string().regex(/^[A-Za-z][A-Za-z0-9_-]{0,63}$/, 'a field name: letters, digits, _ or -'),
    kind: z.enum(FIELD_KINDS),
    prompt: z.string().min(1).max(4000),
    retryPrompt: z.string().min(1).max(4000).optional(),
    minLength: z.number().int().min(1).max(64).optional(),
    maxLength: z.number().int().min(1).max(64).optional(),
    attempts: z.number().int().min(1).max(10).default(3),
    sensitive: z.boolean().default(true),
    timeoutSeconds: z.number().int().min(1).max(60).default(10),
  })
  .strict()
  .refine((s) => s.minLength === undefined || s.maxLength === undefined || s.minLength <= s.maxLength, {
    message: 'minLength must not exceed maxLength',
    path: ['minLength'],
  });

type StepOut = z.infer<typeof sayStep> | z.infer<typeof collectStep>;

/** a step is a `collect` or a `say`: pick its schema by its key so errors name the real field */
const step = z.unknown().transform((v, ctx): StepOut => {
  const schema = v !== null && typeof v === 'object' && 'collect' in v ? collectStep : sayStep;
  const r = schema.safeParse(v);
  if (!r.success) {
    for (const issue of r.error.issues) ctx.addIssue({ ...issue, path: issue.path } as z.IssueData);
    return z.NEVER;
  }
  return r.data;
});

const handoff = z
  .object({
    mode: z.enum(['bridge', 'dial']),
    to: z
      .string()
      .regex(/^(client:[\w.@-]+|sip:.+|queue:[\w.-]+|\+[1-9]\d{6,14})$/, 'client:NAME, sip:URI, queue:NAME or an E.164 number')
      .optional(),
    say: z.string().min(1).max(4000).optional(),
  })
  .strict();

export const flowSchema = z
  .object({
    id: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/),
    numbers: z.array(z.string().regex(/^\+[1-9]\d{6,14}$/, 'an E.164 number')).min(1),
    record: z.boolean().default(false),
    language: z.string().min(2).max(16).optional(),
    voice: z.string().min(1).max(64).optional(),
    steps: z.array(step).default([]),
    handoff: handoff.default({ mode: 'dial' }),
  })
  .strict()
  .superRefine((flow, ctx) => {
    const seen = new Set<string>();
    flow.steps.forEach((s, i) => {
      if ('collect' in s) {
        if (seen.has(s.collect)) ctx.addIssue({ code: 'custom', path: ['steps', i, 'collect'], message: `duplicate field name ${s.collect}` });
        seen.add(s.collect);
      }
    });
  });

export type Flow = z.infer<typeof flowSchema>;
export type FlowStep = Flow['steps'][number];
export type CollectStep = Extract<FlowStep, { collect: string }>;
export type SayStep = Extract<FlowStep, { say: string }>;
export type Handoff = Flow['handoff'];

export const isCollect = (s: FlowStep): s is CollectStep => 'collect' in s;
