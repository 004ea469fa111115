/**
 * Agent, supervisor and admin bearer tokens: HS256 JWTs signed with AGENT_JWT_SECRET, verified
 * with fast-jwt (the verifier behind @fastify/jwt) and their claims parsed with zod. The per-call
 * rule (CONTRACT §5) lives in `canSee`.
 */
import { randomUUID } from 'node:crypto';
import { createSigner, createVerifier } from 'fast-jwt';
import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import { AuthErrors, Errors } from '../errors';
import { tokenDigest, type TokenRevocations, type TokenStanding } from './revocations';

export const ROLES = ['agent', 'supervisor', 'admin'] as const;
export type Role = (typeof ROLES)[number];

const claimsSchema = z
  .object({
    sub: z.string().min(1).max(128),
    // what the service dials for the holder's audio (CONTRACT §5): a supervisor or admin who only
    // reads calls, audits or erases needs none, and cannot accept a call without one (offers.ts)
    endpoint: z
      .string()
      .min(1)
      .max(256)
      .regex(/^(client:[\w.@-]+|sip:.+|\+[1-9]\d{6,14})$/)
      .optional(),
    role: z.enum(ROLES),
    // NumericDates (RFC 7519 §2): seconds, not necessarily whole ones (`Date.now() / 1000 + 3600`)
    exp: z.number().finite(),
    iat: z.number().finite().optional(),
  })
  // an agent's token is for taking calls, and its endpoint is also what a flow's handoff.to names (canSee)
  .refine((c) => c.role !== 'agent' || c.endpoint !== undefined, { path: ['endpoint'], message: 'an agent token must name its endpoint' });

/** a stolen token is good for at most this long unless configured otherwise (CONTRACT §5 `exp`) */
export const DEFAULT_MAX_TOKEN_LIFETIME_SECONDS = 12 * 3600;

/**
 * How far the clock of the identity system that mints tokens may be from this one: a token
 * whose `nbf` or `iat` is up to this far ahead, or whose `exp` passed up to this long ago, is taken.
 * Without it, an issuer a second ahead has every fresh token with `nbf` refused (401 at login).
 */
export const CLOCK_TOLERANCE_MS = 30_000;

export interface TokenAuthOptions {
  /** a token whose exp lies further than this past its iat (or past now, without iat) is refused */
  maxLifetimeSeconds?: number;
  /** when set, the token's `aud` must name it */
  audience?: string;
  /** when set, the token's `iss` must equal it */
  issuer?: string;
  /**
   * the tokens signed out before their exp, and left idle (app.ts always gives them): each
   * authentication reads the store once. Without them (tests of a route alone) no token is revoked
   * or idle, and revoke() fails.
   */
  revocations?: TokenRevocations;
  /** how a log line names a signed-out token's holder when it is refused (AuditTrail.actor): never its `sub` */
  actor?(p: Principal): string;
}

/** where authenticate() writes the refusal of a signed-out token (a request's or the socket's logger) */
export interface RefusalLog {
  info(fields: object, message: string): void;
}

export type Principal = z.infer<typeof claimsSchema>;

/** who made a request, once its token verified: for the access log (ops/access-log.ts) */
const principals = new WeakMap<FastifyRequest, Principal>();

export function principalOf(request: FastifyRequest): Principal | undefined {
  return principals.get(request);
}

export class TokenAuth {
  private readonly verifier: (token: string) => unknown;
  private readonly signer: (payload: Record<string, unknown>) => string;

  private readonly maxLifetimeSeconds: number;
  private readonly revocations?: TokenRevocations;
  private readonly actor?: (p: Principal) => string;

  constructor(secret: string, opts: TokenAuthOptions = {}) {
    this.revocations = opts.revocations;
    this.actor = opts.actor;
    this.maxLifetimeSeconds = opts.maxLifetimeSeconds ?? DEFAULT_MAX_TOKEN_LIFETIME_SECONDS;
    const required = ['sub', 'exp', ...(opts.audience ? ['aud'] : []), ...(opts.issuer ? ['iss'] : [])];
    this.verifier = createVerifier({
      key: secret,
      algorithms: ['HS256'],
      requiredClaims: required,
      clockTolerance: CLOCK_TOLERANCE_MS,
      ...(opts.audience ? { allowedAud: opts.audience } : {}),
      ...(opts.issuer ? { allowedIss: opts.issuer } : {}),
    });
    this.signer = createSigner({
      key: secret,
      algorithm: 'HS256',
      ...(opts.audience ? { aud: opts.audience } : {}),
      ...(opts.issuer ? { iss: opts.issuer } : {}),
    });
  }

  /** verifies a raw token; throws 401 on anything wrong (signature, expiry, claims) */
  verify(token: string): Principal {
    let payload: unknown;
    try {
      payload = this.verifier(token);
    } catch {
      throw Errors.unauthorized();
    }
    const claims = claimsSchema.safeParse(payload);
    if (!claims.success) throw Errors.unauthorized({ detail: 'token claims are invalid' });
    const now = Date.now();
    // the lifetime below counts from iat: one further ahead than the issuer's clock can be would
    // let a token live as long as its issuer wished (iat a day ahead, exp 8 h after it: 32 h)
    if (claims.data.iat !== undefined && claims.data.iat * 1000 > now + CLOCK_TOLERANCE_MS) throw Errors.unauthorized({ detail: 'token issued in the future' });
    const issued = claims.data.iat ?? Math.floor(now / 1000);
    if (claims.data.exp - issued > this.maxLifetimeSeconds) throw Errors.unauthorized({ detail: 'token lifetime exceeds the maximum' });
    return claims.data;
  }

  /**
   * What a request or a socket is let in by: the token verified, then the store asked whether it
   * was signed out or left idle past AGENT_IDLE_TIMEOUT_SECONDS (auth/idle.ts; one read for both):
   * 401 if so, as any token refused, an expired one's answer. This use restarts its idle clock. A
   * store that cannot answer fails the request. A signed-out or idle token's use is written to
   * `log`, its holder named by actor (PCI DSS 10.2.1): a copy used after the sign-out, or long
   * after its holder left it, is a sign of a stolen one.
   */
  async authenticate(token: string, log?: RefusalLog): Promise<Principal> {
    const p = this.verify(token);
    const standing = await this.standing(tokenDigest(token), p.exp, true);
    if (standing !== 'good') {
      log?.info({ ...(this.actor ? { actor: this.actor(p) } : {}), role: p.role }, standing === 'revoked' ? 'signed-out token refused' : 'idle token refused');
      throw Errors.unauthorized();
    }
    return p;
  }

  /**
   * What the store says of the token filed under `digest` (auth/revocations.ts tokenDigest) and
   * expiring at `exp`: what a socket let in before is re-checked by before each request it sends
   * (`use`: its idle clock starts again) and now and then while it only listens (no use), so one
   * whose sign-out news it missed (its instance's subscription down when it went out), or whose
   * token went idle, acts no more. A store that cannot answer throws.
   */
  async standing(digest: string, exp: number, use: boolean): Promise<TokenStanding> {
    return this.revocations ? this.revocations.standing(digest, exp, use) : 'good';
  }

  /** reads `Authorization: Bearer <jwt>` and authenticates it */
  async fromRequest(request: FastifyRequest): Promise<Principal> {
    const p = await this.authenticate(bearerToken(request), request.log);
    principals.set(request, p);
    return p;
  }

  /**
   * Ends the session of the request's token before its exp (`POST /v1/session/signout`): filed as
   * revoked, so every instance refuses it from now on. What it was, and its digest, for the
   * caller to close its sockets and log by.
   */
  async signOut(request: FastifyRequest): Promise<{ principal: Principal; digest: string }> {
    if (!this.revocations) throw AuthErrors.revocationsMissing();
    const token = bearerToken(request);
    const principal = await this.authenticate(token, request.log);
    principals.set(request, principal);
    const digest = tokenDigest(token);
    await this.revocations.revoke(digest, principal.exp);
    return { principal, digest };
  }

  /**
   * A token of the service's own (`npm run token`, tests). Its `iat` and a random `jti` make each
   * one minted a text of its own: two for the same claims in the same second were the same token,
   * so signing one out (filed by its signed part, auth/revocations.ts) signed out the other too.
   * Tokens an operator's IdP mints need neither (CONTRACT §5): verify() asks for no jti.
   */
  sign(claims: { sub: string; endpoint?: string; role: Role }, ttlSeconds = 8 * 3600): string {
    const iat = Math.floor(Date.now() / 1000);
    return this.signer({ ...claims, iat, exp: iat + ttlSeconds, jti: randomUUID() });
  }
}

function bearerToken(request: FastifyRequest): string {
  const header = request.headers.authorization;
  const m = typeof header === 'string' ? /^Bearer\s+(\S+)$/i.exec(header) : null;
  if (!m) throw Errors.unauthorized();
  return m[1];
}

export function requireRole(p: Principal, ...roles: Role[]): void {
  if (!roles.includes(p.role)) throw Errors.forbidden();
}

/**
 * What `canSee` reads of a call. auth/ sits below calls/ (base layer), so it names the few
 * fields it needs instead of importing CallSession; a CallSession is one.
 */
export interface VisibleCall {
  state: string;
  handoff: { mode: string; to?: string; agentSub?: string };
}

/**
 * An agent sees a call offered to them (offered to every connected agent when the flow names no
 * endpoint, in bridge and dial mode alike), a call assigned to them (accepted by them), or a call
 * whose flow hands off to their endpoint. Supervisors and admins see every call.
 */
export function canSee(p: Principal, call: VisibleCall): boolean {
  if (p.role !== 'agent') return true;
  if (call.handoff.agentSub) return call.handoff.agentSub === p.sub;
  if (call.handoff.to) return call.handoff.to === p.endpoint;
  return call.state === 'offered';
}
