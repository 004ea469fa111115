/**
 * Issue 13 (prompts): the sample flows through the Twilio emulator, real HTTP and a real Redis.
 * What the caller heard at each <Gather> (each <Say> with its language and voice) is read off
 * the emulator: error prompts by errorType, prompts by attempt, a card brand refused, a value
 * keyed twice (the first entry only ever in the vault, encrypted), a postal code, the Spanish
 * flow, and a flow file with a bad prompt entry refused at start.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { buildApp } from '../../src/app';
import type { GatherRequest, HeardEntry } from '../../tools/emulator';
import { TokenAuth } from '../../src/auth/tokens';
import { flowsDirConfig, PAYMENTS_NUMBER, startHarness, waitFor, type Harness } from '../support/harness';
import { currentExpiry, holdsValue } from '../support/values';

const SPANISH_NUMBER = '+15005550008';
const ACCOUNT = '73920584';
const DINERS = '30569309025904'; // Luhn-valid, Diners Club: a brand the payments flow does not take
const VISA = '4111111111111111';
const AMEX = '378282246310005';

const said = (heard: HeardEntry[]) => heard.map((e) => (e.verb === 'Say' ? e.text : `play:${e.url}`));

/** answers each Gather in turn and keeps what the caller heard at it */
function caller(keys: Array<string | null>, before?: (g: GatherRequest) => Promise<void>) {
  const heard: HeardEntry[][] = [];
  return {
    heard,
    onGather: async (g: GatherRequest) => {
      heard.push(g.heard);
      await before?.(g);
      return g.index < keys.length ? keys[g.index] : null;
    },
  };
}

describe('prompts by step, error and attempt; languages', () => {
  let h: Harness;
  let token: string;
  beforeAll(async () => {
    h = await startHarness();
    token = new TokenAuth(h.config.agentJwtSecret).sign({ sub: 'sup', endpoint: 'client:sup', role: 'supervisor' });
  });
  afterAll(async () => h.close());

  const fields = async (sid: string) => {
    const r = await fetch(`${h.url}/v1/calls/${sid}`, { headers: { authorization: `Bearer ${token}` } });
    return ((await r.json()) as any).fields;
  };
  const bridged = (call: { transcript: Array<{ verb: string }> }) => () => call.transcript.some((t) => t.verb === 'Connect/Stream');

  test('a timeout is asked again with its errorType prompt; a wrong card brand is refused as invalid-card-type; attempt 3 has its own prompt', async () => {
    const c = caller([null, '1#', '123#', '1234#', `${ACCOUNT}#`, `${DINERS}#`, `${VISA}#`, currentExpiry(1), '123#']);
    const call = await h.emulator.placeCall({ from: '+15550007001', to: PAYMENTS_NUMBER, voiceUrl: h.voiceUrl, onGather: c.onGather });
    await waitFor(bridged(call), 'the bridge handoff', 15000);
    expect(c.heard.map(said)).toEqual([
      ['To pay a bill, press 1, then hash.'],
      // timeout: the flow's own timeout entry, then the ask
      ["Sorry, I didn't hear a key.", 'To pay a bill, press 1, then hash.'],
      ['Key in your account number, then press hash.'],
      // too short: the generic `invalid` entry; attempt 2 asks as attempt 1, attempt 3 has its own words
      ['Sorry, that is not an account number.', 'Key in your account number, then press hash.'],
      ['Sorry, that is not an account number.', 'Your account number is the six to ten digit number at the top of your bill. Key it in, then press hash.'],
      ['Key in your card number, then press hash.'],
      // a valid Diners card: Luhn holds, the brand is not in validCardTypes
      [
        'Sorry, we take Visa, Mastercard, American Express, Discover and JCB cards only.',
        'Key in the long number across the front of your card, then press hash.',
      ],
      ['Key in the expiry date as four digits: two for the month, two for the year.'],
      ['Key in the security code from the back of your card, then press hash.'],
    ]);
    // every prompt in the flow's language
    expect(c.heard.flat().every((e) => e.verb === 'Say' && e.language === 'en-US')).toBe(true);
    const f = await fields(call.sid);
    expect(f.menu).toMatchObject({ valid: true });
    expect(f.account).toMatchObject({ valid: true, masked: '********' });
    expect(f.card).toMatchObject({ valid: true, brand: 'visa', last4: '1111' });
    await call.hangup();
  });

  test('a brand refused on every attempt fails the field as card-type, showing no digit of it', async () => {
    const c = caller(['1#', `${ACCOUNT}#`, `${DINERS}#`, `${DINERS}#`, `${DINERS}#`, currentExpiry(1), '123#']);
    const call = await h.emulator.placeCall({ from: '+15550007002', to: PAYMENTS_NUMBER, voiceUrl: h.voiceUrl, onGather: c.onGather });
    await waitFor(bridged(call), 'the bridge handoff', 15000);
    const f = await fields(call.sid);
    expect(f.card).toEqual({ kind: 'card-number', masked: '*'.repeat(DINERS.length), valid: false, reason: 'attempts-exhausted:card-type' });
    expect(said(c.heard[4])[0]).toBe('Sorry, we take Visa, Mastercard, American Express, Discover and JCB cards only.');
    await call.hangup();
  });

  test('the Spanish flow: es-MX prompts and voice, an English first step, Spanish default error messages, a postal code', async () => {
    const c = caller([`${ACCOUNT}#`, `${ACCOUNT}#`, `${AMEX}#`, '0101', currentExpiry(1), '1234#', '2801#', '28013#']);
    const call = await h.emulator.placeCall({ from: '+15550007003', to: SPANISH_NUMBER, voiceUrl: h.voiceUrl, onGather: c.onGather });
    await waitFor(bridged(call), 'the bridge handoff', 15000);
    const opening = call.transcript.filter((t) => t.verb === 'Say').slice(0, 2);
    expect(opening).toEqual([
      { verb: 'Say', text: 'For English, please call five zero zero, five five five, zero zero zero six.', language: 'en-US', voice: 'Polly.Joanna' },
      {
        verb: 'Say',
        text: 'Gracias por llamar a Example Co. Esta llamada se graba, pero nunca mientras marca sus datos.',
        language: 'es-MX',
        voice: 'Polly.Mia',
      },
    ]);
    expect(c.heard.map(said)).toEqual([
      ['Marque su número de cuenta y pulse almohadilla.'],
      ['Para confirmar, marque otra vez su número de cuenta y pulse almohadilla.'],
      ['Marque el número de su tarjeta y pulse almohadilla.'],
      ['Marque la fecha de vencimiento con cuatro dígitos: dos del mes y dos del año.'],
      // an expiry in the past: no entry of the flow's own, so the default, in Spanish
      ['Lo siento, la fecha no es válida.', 'Marque la fecha de vencimiento con cuatro dígitos: dos del mes y dos del año.'],
      ['Marque el código de seguridad del reverso de su tarjeta y pulse almohadilla.'],
      ['Marque el código postal de su domicilio de facturación y pulse almohadilla.'],
      ['El código postal tiene cinco dígitos.', 'Marque el código postal de su domicilio de facturación y pulse almohadilla.'],
    ]);
    for (const e of c.heard.flat()) expect(e).toMatchObject({ verb: 'Say', language: 'es-MX', voice: 'Polly.Mia' });
    const f = await fields(call.sid);
    expect(f.postal).toEqual({ kind: 'postal-code', masked: '*****', valid: true });
    expect(f.card).toMatchObject({ valid: true, brand: 'amex' });
    expect(f.cvv).toMatchObject({ valid: true, masked: '****' });
    // nothing was keyed under a running recording (this flow asks for a sensitive field first, so
    // the caller's recording never starts before the bridge; the agent's call is recorded instead)
    expect(call.gathers.map((g) => g.recordingStatus)).toEqual(Array(8).fill('none'));
    await call.hangup();
  });

  test('requireMatchingInputs: a mismatch is asked again with input-matching-failed and costs an attempt; the first entry lives only in the vault between the webhooks', async () => {
    let checkedPending = false;
    const c = caller([`${ACCOUNT}#`, '73920585#', `${ACCOUNT}#`, `${ACCOUNT}#`, `${VISA}#`, currentExpiry(1), '123#', '28013#'], async (g) => {
      if (g.index !== 1 && g.index !== 3) return;
      // between the first entry and the second: the session names a vault token, and neither the
      // store nor the log holds the value in plain
      const session = (await h.app.services.calls.get(call.sid))!;
      expect(session.pendingMatch).toEqual({ step: 2, token: expect.stringMatching(/^vt_/) });
      expect(session.fields.account).toBeUndefined();
      expect(await h.redisStore!.get(h.app.services.keys.vault(session.pendingMatch!.token))).toMatch(/^v1\./);
      const everything = (await h.scan()).map((k) => `${k.key} ${k.content}`).join('\n');
      expect(holdsValue(everything, ACCOUNT)).toBe(false);
      expect(holdsValue(h.logs.text, ACCOUNT)).toBe(false);
      checkedPending = true;
    });
    const call = await h.emulator.placeCall({ from: '+15550007004', to: SPANISH_NUMBER, voiceUrl: h.voiceUrl, onGather: c.onGather });
    await waitFor(bridged(call), 'the bridge handoff', 15000);
    expect(checkedPending).toBe(true);
    expect(c.heard.slice(0, 4).map(said)).toEqual([
      ['Marque su número de cuenta y pulse almohadilla.'],
      ['Para confirmar, marque otra vez su número de cuenta y pulse almohadilla.'],
      ['Los dos números no coinciden. Empecemos de nuevo.', 'Marque su número de cuenta y pulse almohadilla.'],
      ['Para confirmar, marque otra vez su número de cuenta y pulse almohadilla.'],
    ]);
    // the second entry of each pair went to its own action URL; the mismatch used attempt 1, the match was attempt 2
    const actions = h.emulator
      .timelineFor(call.sid)
      .filter((e: any) => e.type === 'gather')
      .map((e: any) => new URL(e.action).pathname);
    expect(actions.slice(0, 4)).toEqual(['/twilio/gather/2/1', '/twilio/gather/2/1/confirm', '/twilio/gather/2/2', '/twilio/gather/2/2/confirm']);
    const session = (await h.app.services.calls.get(call.sid))!;
    expect(session.pendingMatch).toBeUndefined();
    expect(await fields(call.sid)).toMatchObject({ account: { valid: true, masked: '********' } });
    // the value that matched is the one in the vault, under the account's token
    expect(await h.app.services.vault.get(call.sid, 'account', session.fields.account.token!)).toBe(ACCOUNT);
    await call.hangup();
  });

  test('requireMatchingInputs: mismatches on every attempt fail the field and erase the first entries', async () => {
    const tokens: string[] = [];
    const keys = [`${ACCOUNT}#`, '11111111#', `${ACCOUNT}#`, '22222222#', `${ACCOUNT}#`, '33333333#'];
    const c = caller([...keys, `${VISA}#`, currentExpiry(1), '123#', '28013#'], async (g) => {
      if (g.index % 2 === 1 && g.index < keys.length) tokens.push((await h.app.services.calls.get(call.sid))!.pendingMatch!.token);
    });
    const call = await h.emulator.placeCall({ from: '+15550007005', to: SPANISH_NUMBER, voiceUrl: h.voiceUrl, onGather: c.onGather });
    await waitFor(bridged(call), 'the bridge handoff', 15000);
    expect(await fields(call.sid)).toMatchObject({ account: { valid: false, reason: 'attempts-exhausted:input-matching-failed', masked: '********' } });
    expect(new Set(tokens).size).toBe(3);
    for (const t of tokens) expect(await h.redisStore!.get(h.app.services.keys.vault(t))).toBeNull();
    expect(said(c.heard[6])).toEqual(['Marque el número de su tarjeta y pulse almohadilla.']);
    await call.hangup();
  });

  test('requireMatchingInputs: a caller who hangs up between the two entries leaves nothing sealed in the vault', async () => {
    let sealed: string | undefined;
    const c = caller([`${ACCOUNT}#`], async (g) => {
      if (g.index !== 1) return;
      sealed = (await h.app.services.calls.get(call.sid))!.pendingMatch!.token;
      expect(await h.redisStore!.get(h.app.services.keys.vault(sealed))).toMatch(/^v1\./);
      void call.hangup();
    });
    const call = await h.emulator.placeCall({
      from: '+15550007006',
      to: SPANISH_NUMBER,
      voiceUrl: h.voiceUrl,
      statusCallback: h.statusUrl,
      onGather: c.onGather,
    });
    await waitFor(() => sealed, 'the confirm prompt', 15000);
    await waitFor(async () => (await h.app.services.calls.get(call.sid))?.state === 'ended', 'the call ended', 15000);
    // erased once the call's end is written (the erase follows that write)
    await waitFor(async () => (await h.redisStore!.get(h.app.services.keys.vault(sealed!))) === null, 'the sealed entry erased', 5000);
    expect((await h.app.services.calls.get(call.sid))!.pendingMatch).toBeUndefined();
  });

  test('a flow file with a bad prompt entry stops the service at start, naming the file, the path and the reason', async () => {
    const dir = mkdtempSync('/tmp/tw-prompt-flows-');
    writeFileSync(
      path.join(dir, 'bad-prompt.yaml'),
      'id: bad\nnumbers: ["+15005550199"]\nsteps:\n  - say: hi\n  - collect: card\n    kind: card-number\n    prompt:\n      - say: "Card number."\n      - play: "http://prompts.example.com/again.mp3"\n        errorType: timeout\n',
    );
    const config = flowsDirConfig(dir);
    await expect(buildApp(config)).rejects.toThrow(`flow file ${path.join(dir, 'bad-prompt.yaml')} is invalid at steps.1.prompt.1.play: an https:// URL`);
  });
});
