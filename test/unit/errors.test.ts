/**
 * The error catalogue (src/errors.ts and src/errors/): every code follows TW_ERR_<AREA>_<WHAT>
 * and is unique, the short names older code uses keep their codes, and src/ throws no bare Error
 * outside the DSP's own invariant checks. The source-tree checks read the files as they are.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import {
  AgentErrors,
  CATALOGUE_CODES,
  ConfigError,
  Errors,
  isTonewallError,
  LEGACY_CODES,
  PaymentRefused,
  ProcessorsConfigError,
  StoreErrors,
  TonewallError,
  VaultErrors,
} from '../../src/errors';

const SRC = join(__dirname, '..', '..', 'src');
const CODE = /^TW_ERR_[A-Z]+_[A-Z_]+$/;

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

const files = sources(SRC).map((path) => ({ path: relative(SRC, path), text: readFileSync(path, 'utf8') }));

describe('the error catalogue', () => {
  it('holds every area', () => {
    // a floor, so an area dropped from the list in errors.ts is noticed
    expect(CATALOGUE_CODES.length).toBeGreaterThanOrEqual(50);
    expect(CATALOGUE_CODES).toEqual(
      expect.arrayContaining(['TW_ERR_STORE_TTL_INVALID', 'TW_ERR_CONFIG_INVALID', 'TW_ERR_PAYMENT_REFUSED', 'TW_ERR_VAULT_TAMPERED']),
    );
  });

  it('names every code TW_ERR_<AREA>_<WHAT>, but for the three legacy codes clients match on', () => {
    expect(LEGACY_CODES).toEqual(['TW_ERR_CONFLICT', 'TW_ERR_INTERNAL', 'TW_ERR_TIMEOUT']);
    const misnamed = CATALOGUE_CODES.filter((c) => !CODE.test(c) && !LEGACY_CODES.includes(c));
    expect(misnamed).toEqual([]);
  });

  it('gives each code to one entry only', () => {
    const seen = new Set<string>();
    const twice = CATALOGUE_CODES.filter((c) => (seen.has(c) ? true : (seen.add(c), false)));
    expect(twice).toEqual([]);
  });

  it('keeps the codes the short names always had (tests and clients match on them)', () => {
    const codes = Object.fromEntries(Object.entries(Errors).map(([name, make]) => [name, make().code]));
    expect(codes).toEqual({
      storeUnavailable: 'TW_ERR_STORE_UNAVAILABLE',
      flowInvalid: 'TW_ERR_FLOW_INVALID',
      flowNotFound: 'TW_ERR_FLOW_NOT_FOUND',
      callNotFound: 'TW_ERR_CALL_NOT_FOUND',
      recordingPauseFailed: 'TW_ERR_RECORDING_PAUSE_FAILED',
      recordingResumeFailed: 'TW_ERR_RECORDING_RESUME_FAILED',
      twilioRest: 'TW_ERR_TWILIO_REST',
      vaultTampered: 'TW_ERR_VAULT_TAMPERED',
      captureRunning: 'TW_ERR_CAPTURE_RUNNING',
      captureNotFound: 'TW_ERR_CAPTURE_NOT_FOUND',
      notBridged: 'TW_ERR_CALL_NOT_BRIDGED',
      unauthorized: 'TW_ERR_AUTH_UNAUTHORIZED',
      forbidden: 'TW_ERR_AUTH_FORBIDDEN',
      badRequest: 'TW_ERR_REQUEST_INVALID',
      conflict: 'TW_ERR_CONFLICT',
      paymentOpen: 'TW_ERR_PAYMENT_OPEN',
      paymentNotFound: 'TW_ERR_PAYMENT_NOT_FOUND',
      paymentEnded: 'TW_ERR_PAYMENT_ENDED',
      paymentUnknownField: 'TW_ERR_PAYMENT_UNKNOWN_FIELD',
      paymentIncomplete: 'TW_ERR_PAYMENT_INCOMPLETE',
      timeout: 'TW_ERR_TIMEOUT',
      rateLimited: 'TW_ERR_RATE_LIMITED',
      busMessageInvalid: 'TW_ERR_BUS_MESSAGE_INVALID',
      busTimeout: 'TW_ERR_BUS_TIMEOUT',
      busRemoteFailed: 'TW_ERR_BUS_REMOTE_FAILED',
      busReplyInvalid: 'TW_ERR_BUS_REPLY_INVALID',
      busClosed: 'TW_ERR_BUS_CLOSED',
    });
  });

  it('builds TonewallErrors that carry their entry’s code, status, detail and cause', () => {
    const cause = new Error('ECONNREFUSED');
    const e = StoreErrors.unavailable({ cause, detail: 'ping' });
    expect(isTonewallError(e)).toBe(true);
    expect(e).toMatchObject({ code: StoreErrors.unavailable.code, statusCode: 503, message: 'the store is unreachable: ping', cause });
    expect(VaultErrors.keysInvalid('entry 2 is not base64')).toMatchObject({ code: 'TW_ERR_VAULT_KEYS_INVALID', message: 'VAULT_KEYS: entry 2 is not base64' });
    // the contract's body for a refused pause (CONTRACT §5) rides on the catalogue's entry
    expect(AgentErrors.capturePauseFailed()).toMatchObject({ code: 'TW_ERR_AGENT_CAPTURE_PAUSE_FAILED', wireCode: 'recording-pause-failed', statusCode: 503 });
  });

  it('makes the error classes TonewallErrors too, with their own fields', () => {
    const config = new ConfigError('PORT', 'PORT: expected a number');
    expect(config).toBeInstanceOf(TonewallError);
    expect(config).toMatchObject({ code: 'TW_ERR_CONFIG_INVALID', variable: 'PORT' });
    expect(new ProcessorsConfigError('p.yaml', 'processors.0.url', 'not https')).toMatchObject({
      code: 'TW_ERR_PROCESSORS_INVALID',
      message: 'p.yaml: processors.0.url: not https',
    });
    expect(new PaymentRefused('payment-ended')).toMatchObject({ code: 'TW_ERR_PAYMENT_REFUSED', reason: 'payment-ended' });
  });
});

describe('the source tree', () => {
  it('throws no bare Error outside media/dsp’s invariant checks', () => {
    const bare = files
      .filter((f) => !f.path.startsWith(join('media', 'dsp')))
      .flatMap((f) => f.text.split('\n').map((line, i) => ({ at: `${f.path}:${i + 1}`, line })))
      .filter(({ line }) => /\bnew Error\(|\bthrow Error\(/.test(line))
      .map(({ at }) => at);
    expect(bare).toEqual([]);
  });

  it('says why next to every failure it drops without a log line', () => {
    const silent = files.flatMap((f) => {
      const lines = f.text.split('\n');
      return lines
        .map((line, i) => ({ at: `${f.path}:${i + 1}`, line, above: lines[i - 1] ?? '' }))
        .filter(({ line }) => /\.catch\(\(\) => (undefined|\{\s*\})\)/.test(line))
        .filter(({ line, above }) => !/\/\/|\/\*/.test(line) && !/^\s*(\/\/|\*)/.test(above))
        .map(({ at }) => at);
    });
    expect(silent).toEqual([]);
  });
});
