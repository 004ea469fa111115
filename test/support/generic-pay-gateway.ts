/**
 * A payment gateway written to Twilio's published Generic Pay Connector spec, as a gateway that
 * takes Twilio's connector would be: it refuses a request without the Basic credentials set on
 * the connector (401) or whose JSON is not the connector's (400, naming the first problem), and
 * answers `{charge_id | token_id, error_code, error_message}` with HTTP 200, a decline included.
 * Repeats of a transaction_id get the first answer again and move no money twice.
 *
 * It is deliberately careless in one way real gateways are: a decline's error_message quotes
 * the card number, so tests can prove that text never reaches an agent, a log or an event.
 *
 * The connector has no erase call: a gateway that sets an `eraseUrl` takes tonewall's signed
 * erasure there (any path under /erase), recorded here as it came, raw body and all, so a test
 * can check its signature and read every byte a gateway was told.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import { z } from 'zod';

const digits = (min: number, max: number) => z.string().regex(new RegExp(`^[0-9]{${min},${max}}$`));

const requestSchema = z
  .object({
    transaction_id: z.string().min(1).max(64),
    method: z.enum(['charge', 'tokenize']),
    cardnumber: digits(12, 19),
    cvv: digits(3, 4).optional(),
    expiry_month: z.string().regex(/^(0[1-9]|1[0-2])$/),
    expiry_year: digits(2, 2),
    postal_code: z.string().min(1).max(16).optional(),
    description: z.string().optional(),
    amount: z
      .string()
      .regex(/^[0-9]+(\.[0-9]+)?$/)
      .optional(),
    currency_code: z
      .string()
      .regex(/^[A-Z]{3}$/)
      .optional(),
    token_type: z.enum(['reusable', 'one-time']).optional(),
    parameters: z.record(z.string()).optional(),
  })
  .strict()
  .superRefine((r, ctx) => {
    if (r.method === 'charge' && (r.amount === undefined || r.currency_code === undefined))
      ctx.addIssue({ code: 'custom', message: 'a charge needs amount and currency_code' });
    if (r.method === 'tokenize' && r.token_type === undefined) ctx.addIssue({ code: 'custom', message: 'a tokenize needs token_type' });
  });

export type ConnectorRequest = z.infer<typeof requestSchema>;

export interface ConnectorCall {
  authorization?: string;
  body: ConnectorRequest;
  status: number;
  answer: unknown;
}

/** a request to an erase path, as received */
export interface ErasureCall {
  path: string;
  signature?: string;
  idempotencyKey?: string;
  /** the raw body, as signed */
  body: string;
}

export interface GenericPayGateway {
  url: string;
  /** every request that passed auth and the schema, in order, with what was answered */
  calls: ConnectorCall[];
  /** why requests were refused (401/400): a test expects none */
  refused: string[];
  /** charges and tokens made, one per transaction_id */
  made: Map<string, ConnectorRequest>;
  /** card numbers the issuer declines */
  declined: Set<string>;
  /** answer 503 to this many of the next requests of a method before taking them (an outage) */
  failNext: { charge: number; tokenize: number };
  /** every request to a path under /erase, answered 204 */
  erasures: ErasureCall[];
  close(): Promise<void>;
}

export async function startGenericPayGateway(creds: { username: string; password: string }): Promise<GenericPayGateway> {
  const app: FastifyInstance = Fastify({ logger: false });
  const expected = 'Basic ' + Buffer.from(`${creds.username}:${creds.password}`).toString('base64');
  const answers = new Map<string, unknown>();
  let serial = 0;
  const gw: GenericPayGateway = {
    url: '',
    calls: [],
    refused: [],
    made: new Map(),
    declined: new Set(),
    failNext: { charge: 0, tokenize: 0 },
    erasures: [],
    close: () => app.close(),
  };

  // the raw body, as the signature covers it: a parser of this route's own
  await app.register(async (erase) => {
    erase.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => done(null, body));
    erase.post('/erase*', async (req, reply) => {
      const header = (name: string) => (typeof req.headers[name] === 'string' ? (req.headers[name] as string) : undefined);
      gw.erasures.push({ path: req.url, signature: header('x-tonewall-signature'), idempotencyKey: header('idempotency-key'), body: req.body as string });
      return reply.code(204).send();
    });
  });

  app.post('/pay', async (req, reply) => {
    if (req.headers.authorization !== expected) {
      gw.refused.push('authorization');
      return reply.code(401).header('www-authenticate', 'Basic realm="gateway"').send({ error: 'unauthorized' });
    }
    const parsed = requestSchema.safeParse(req.body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      gw.refused.push(`${issue.path.join('.')}: ${issue.message}`);
      return reply.code(400).send({ error: 'bad request' });
    }
    const body = parsed.data;
    if (gw.failNext[body.method] > 0) {
      gw.failNext[body.method]--;
      gw.calls.push({ authorization: req.headers.authorization, body, status: 503, answer: null });
      return reply.code(503).send({ error: 'try later' });
    }
    let answer = answers.get(body.transaction_id);
    if (answer === undefined) {
      const idKey = body.method === 'charge' ? 'charge_id' : 'token_id';
      if (gw.declined.has(body.cardnumber)) {
        answer = { [idKey]: null, error_code: 'card_declined', error_message: `Card ${body.cardnumber} was declined by the issuer` };
      } else {
        serial++;
        answer = { [idKey]: `${body.method === 'charge' ? 'ch' : 'tok'}_gw${serial}`, error_code: null, error_message: null };
        gw.made.set(body.transaction_id, body);
      }
      answers.set(body.transaction_id, answer);
    }
    gw.calls.push({ authorization: req.headers.authorization, body, status: 200, answer });
    return reply.code(200).send(answer);
  });

  gw.url = await app.listen({ port: 0, host: '127.0.0.1' });
  return gw;
}

/** the connector's Basic credentials, in the variables genericPayProcessor's entries name (a harness's env) */
export const CONNECTOR_ENV = { CONNECTOR_USER: 'connector-user', CONNECTOR_PASSWORD: 'connector password text' };

/**
 * A PROCESSORS_FILE entry (YAML, under `processors:`): `name`, a twilio-generic-pay processor
 * sent to `gw`'s /pay with the credentials in CONNECTOR_USER and CONNECTOR_PASSWORD, and `keys`,
 * its further keys as YAML values (`fields: '[card, expiry]'`), in their order.
 */
export function genericPayProcessor(name: string, gw: { url: string }, keys: Record<string, string>): string {
  const lines = [
    `  - name: ${name}`,
    '    protocol: twilio-generic-pay',
    `    url: ${gw.url}/pay`,
    '    usernameEnv: CONNECTOR_USER',
    '    passwordEnv: CONNECTOR_PASSWORD',
    ...Object.entries(keys).map(([k, v]) => `    ${k}: ${v}`),
  ];
  return lines.join('\n') + '\n';
}
