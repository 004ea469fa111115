/**
 * `npm run token -- --sub alice --endpoint client:alice --role agent [--ttl 8h]` (`--endpoint`
 * optional for a supervisor or admin): prints a
 * development bearer token signed with AGENT_JWT_SECRET (from the environment or .env). The
 * secret is checked by the service's own config loader; the other variables the service needs
 * are not required to mint a token.
 */
import 'dotenv/config';
import { parseArgs } from 'node:util';
import { DEFAULT_MAX_TOKEN_LIFETIME_SECONDS, ROLES, TokenAuth, type Role } from '../../src/auth/tokens';
import { ConfigError, loadConfig } from '../../src/config';

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/** '8h', '30m', '2d', '900' (seconds) → seconds */
export function parseTtl(text: string): number {
  const m = /^(\d+)([smhd]?)$/.exec(text.trim());
  if (!m) throw new Error(`--ttl must look like 8h, 30m, 2d or a number of seconds, not "${text}"`);
  const seconds = Number(m[1]) * UNITS[m[2] || 's'];
  if (seconds <= 0) throw new Error('--ttl must be positive');
  return seconds;
}

/** the secret as the service would accept it: the config loader's rule, whatever else is missing */
export function jwtSecret(env: Record<string, string | undefined>): string {
  try {
    return loadConfig(env).agentJwtSecret;
  } catch (e) {
    if (!(e instanceof ConfigError) || e.variable === 'AGENT_JWT_SECRET') throw e;
    // another variable is missing: the secret alone decides, with the loader's own rule
    const secret = env.AGENT_JWT_SECRET ?? '';
    if (!secret) throw new ConfigError('AGENT_JWT_SECRET', 'AGENT_JWT_SECRET is required');
    return secret;
  }
}

export function mintToken(argv: string[], env: Record<string, string | undefined>): string {
  const { values } = parseArgs({
    args: argv,
    options: { sub: { type: 'string' }, endpoint: { type: 'string' }, role: { type: 'string', default: 'agent' }, ttl: { type: 'string', default: '8h' } },
  });
  if (!values.sub) throw new Error('--sub is required (the agent id)');
  if (!(ROLES as readonly string[]).includes(values.role!)) throw new Error(`--role must be one of ${ROLES.join(', ')}`);
  // a supervisor or admin who accepts no calls needs no endpoint; an agent's is what the service dials
  if (!values.endpoint && values.role === 'agent') throw new Error('--endpoint is required for an agent (client:alice, sip:…, +1…)');
  const maxLifetimeSeconds = env.AGENT_JWT_MAX_LIFETIME_SECONDS ? Number(env.AGENT_JWT_MAX_LIFETIME_SECONDS) : DEFAULT_MAX_TOKEN_LIFETIME_SECONDS;
  const ttl = parseTtl(values.ttl!);
  if (ttl > maxLifetimeSeconds) throw new Error(`--ttl is longer than the service accepts (${maxLifetimeSeconds} s, AGENT_JWT_MAX_LIFETIME_SECONDS)`);
  // the same audience and issuer the service checks, when the deployment names them
  const auth = new TokenAuth(jwtSecret(env), { maxLifetimeSeconds, audience: env.AGENT_JWT_AUDIENCE || undefined, issuer: env.AGENT_JWT_ISSUER || undefined });
  const tok = auth.sign({ sub: values.sub, ...(values.endpoint ? { endpoint: values.endpoint } : {}), role: values.role as Role }, ttl);
  auth.verify(tok); // the claims must be ones the service accepts (endpoint format, sub length)
  return tok;
}

if (require.main === module) {
  try {
    console.log(mintToken(process.argv.slice(2), process.env));
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    console.error(message.startsWith('missing or invalid token') ? 'the claims are not valid (check --endpoint and --sub)' : message);
    process.exit(1);
  }
}
