/**
 * Prompt entries (Twilio <Prompt> semantics): what a step's schema accepts and refuses, and
 * which entries a caller hears for an attempt, an error and the second entry of a pair.
 */
import { parseFlow } from '../../../src/flows/load';
import { errorTypeFor, promptEntrySchema, selectPrompt, type PromptEntry } from '../../../src/flows/prompts';
import { isCollect, type CollectStep } from '../../../src/flows/schema';
import { parseTwiml } from '../../../tools/emulator/twiml';
import { APOLOGY, renderVerbs, safeTwiml } from '../../../src/twilio/twiml';

const entries = (list: unknown[]): PromptEntry[] => list.map((e) => promptEntrySchema.parse(e));

function flowWith(step: string, extra = ''): string {
  return `id: t\nnumbers: ["+15005550100"]\n${extra}steps:\n${step}`;
}

function collectOf(yaml: string): CollectStep {
  const step = parseFlow('t.yaml', yaml).steps.find(isCollect);
  if (!step) throw new Error('no collect step');
  return step;
}

describe('prompt selection', () => {
  const card = entries([
    { say: 'Card number, then hash.' },
    { say: 'The long number on the front, then hash.', attempt: [2, 3] },
    { say: 'We take Visa only.', errorType: 'invalid-card-type' },
    { say: 'Not a card number.', errorType: ['invalid-card-number'] },
    { say: 'Last try: not a card number.', errorType: 'invalid-card-number', attempt: 3 },
    { say: 'Something was wrong.', errorType: 'invalid' },
    { play: 'https://prompts.example.com/beep.mp3', errorType: 'timeout' },
    { say: 'Nothing heard.', errorType: 'timeout' },
  ]);

  it('asks with the entries for the attempt, the most specific winning', () => {
    expect(selectPrompt(card, { attempt: 1, confirm: false })).toEqual([{ say: 'Card number, then hash.' }]);
    expect(selectPrompt(card, { attempt: 2, confirm: false })).toEqual([{ say: 'The long number on the front, then hash.' }]);
  });

  it('says the error entry for the error first; an exact errorType beats the generic invalid, an attempt-specific one beats both', () => {
    expect(selectPrompt(card, { attempt: 2, error: 'invalid-card-type', confirm: false })).toEqual([
      { say: 'We take Visa only.' },
      { say: 'The long number on the front, then hash.' },
    ]);
    expect(selectPrompt(card, { attempt: 2, error: 'invalid-card-number', confirm: false })[0]).toEqual({ say: 'Not a card number.' });
    expect(selectPrompt(card, { attempt: 3, error: 'invalid-card-number', confirm: false })[0]).toEqual({ say: 'Last try: not a card number.' });
  });

  it('composes a message from every entry equally specific, in file order (say and play)', () => {
    expect(selectPrompt(card, { attempt: 2, error: 'timeout', confirm: false })).toEqual([
      { play: 'https://prompts.example.com/beep.mp3' },
      { say: 'Nothing heard.' },
      { say: 'The long number on the front, then hash.' },
    ]);
  });

  it('falls back to the generic invalid entry, then to a default message in the prompt language', () => {
    const generic = entries([{ say: 'Key it in.' }, { say: 'Something was wrong.', errorType: 'invalid' }]);
    expect(selectPrompt(generic, { attempt: 2, error: 'invalid-date', confirm: false })[0]).toEqual({ say: 'Something was wrong.' });
    expect(selectPrompt(generic, { attempt: 2, error: 'timeout', confirm: false })[0]).toEqual({ say: "Sorry, I didn't hear anything." });
    const plain = entries([{ say: 'Marque su tarjeta.' }]);
    expect(selectPrompt(plain, { attempt: 2, error: 'invalid-card-type', confirm: false, language: 'es-MX', voice: 'Polly.Mia' })).toEqual([
      { say: 'Lo siento, no aceptamos ese tipo de tarjeta.', language: 'es-MX', voice: 'Polly.Mia' },
      { say: 'Marque su tarjeta.', language: 'es-MX', voice: 'Polly.Mia' },
    ]);
    expect(selectPrompt(plain, { attempt: 2, error: 'timeout', confirm: false, language: 'fr-FR' })[0]).toEqual({
      say: "Sorry, I didn't hear anything.",
      language: 'fr-FR',
    });
  });

  it('asks the second entry of a pair with the requireMatchingInputs entries, or a default', () => {
    const pair = entries([{ say: 'Account number.' }, { say: 'Again, to confirm.', requireMatchingInputs: true }]);
    expect(selectPrompt(pair, { attempt: 1, confirm: true })).toEqual([{ say: 'Again, to confirm.' }]);
    expect(selectPrompt(pair, { attempt: 1, confirm: false })).toEqual([{ say: 'Account number.' }]);
    expect(selectPrompt(entries([{ say: 'Account number.' }]), { attempt: 2, confirm: true })).toEqual([
      { say: 'Please key it in again to confirm, then press hash.' },
    ]);
  });

  it("an entry's own language and voice win over the step's", () => {
    const mixed = entries([{ say: 'Para español, oprima dos.', language: 'es-MX', voice: 'Polly.Mia' }, { say: 'Press one.' }]);
    expect(selectPrompt(mixed, { attempt: 1, confirm: false, language: 'en-US' })).toEqual([
      { say: 'Para español, oprima dos.', language: 'es-MX', voice: 'Polly.Mia' },
      { say: 'Press one.', language: 'en-US' },
    ]);
  });

  it('maps each refusal to the errorType Twilio would name', () => {
    expect(errorTypeFor('card-number', 'luhn')).toBe('invalid-card-number');
    expect(errorTypeFor('card-number', 'card-type')).toBe('invalid-card-type');
    expect(errorTypeFor('card-number', 'brand')).toBe('invalid-card-type');
    expect(errorTypeFor('expiry', 'past')).toBe('invalid-date');
    expect(errorTypeFor('security-code', 'length')).toBe('invalid-security-code');
    expect(errorTypeFor('postal-code', 'length')).toBe('invalid-postal-code');
    expect(errorTypeFor('digits', 'length')).toBe('invalid');
    expect(errorTypeFor('date', 'future')).toBe('invalid');
    expect(errorTypeFor('routing-number', 'checksum')).toBe('invalid');
    expect(errorTypeFor('card-number', 'no-input')).toBe('timeout');
  });
});

describe('flow schema: prompts, languages, card types, matching inputs', () => {
  it('keeps a plain-string prompt and takes lists with space-separated errorType and attempt, as in TwiML', () => {
    expect(collectOf(flowWith('  - collect: c\n    kind: card-number\n    prompt: "Card, then hash."\n')).prompt).toBe('Card, then hash.');
    const s = collectOf(
      flowWith(
        '  - collect: c\n    kind: card-number\n    validCardTypes: visa mastercard\n    language: es-MX\n    voice: Polly.Mia\n    prompt:\n      - say: Tarjeta\n      - say: Otra vez\n        attempt: "2 3"\n      - play: https://prompts.example.com/x.mp3\n        errorType: "timeout invalid-card-number"\n',
      ),
    );
    expect(s.validCardTypes).toEqual(['visa', 'mastercard']);
    expect(s.language).toBe('es-MX');
    expect(s.prompt).toEqual([
      { say: 'Tarjeta' },
      { say: 'Otra vez', attempt: [2, 3] },
      { play: 'https://prompts.example.com/x.mp3', errorType: ['timeout', 'invalid-card-number'] },
    ]);
  });

  it('takes play and say steps with their own language and voice', () => {
    const flow = parseFlow(
      't.yaml',
      flowWith('  - say: Hello\n    language: en-GB\n    voice: Polly.Amy\n  - play: https://prompts.example.com/jingle.mp3\n', 'language: es-MX\n'),
    );
    expect(flow.steps).toEqual([{ say: 'Hello', language: 'en-GB', voice: 'Polly.Amy' }, { play: 'https://prompts.example.com/jingle.mp3' }]);
    expect(flow.language).toBe('es-MX');
  });

  it.each([
    ['a play URL that is not https', '    prompt:\n      - play: http://prompts.example.com/x.mp3\n', 'steps.0.prompt.0.play', /https/],
    [
      'an entry with both say and play',
      '    prompt:\n      - say: a\n        play: https://prompts.example.com/x.mp3\n',
      'steps.0.prompt.0',
      /exactly one of say or play/,
    ],
    ['an entry with neither', '    prompt:\n      - attempt: 1\n', 'steps.0.prompt.0', /exactly one of say or play/],
    [
      'an unknown errorType',
      '    prompt:\n      - say: a\n      - say: b\n        errorType: invalid-card\n',
      'steps.0.prompt.1.errorType.0',
      /Invalid enum value/,
    ],
    [
      'an errorType the kind never reports',
      '    prompt:\n      - say: a\n      - say: b\n        errorType: invalid-date\n',
      'steps.0.prompt.1.errorType',
      /never reports/,
    ],
    [
      'input-matching-failed without requireMatchingInputs',
      '    prompt:\n      - say: a\n      - say: b\n        errorType: input-matching-failed\n',
      'steps.0.prompt.1.errorType',
      /requireMatchingInputs/,
    ],
    [
      'an attempt beyond attempts',
      '    attempts: 2\n    prompt:\n      - say: a\n      - say: b\n        attempt: 3\n',
      'steps.0.prompt.1.attempt',
      /beyond the step's attempts \(2\)/,
    ],
    ['an attempt of 0', '    prompt:\n      - say: a\n        attempt: 0\n', 'steps.0.prompt.0.attempt.0', /greater than or equal to 1/],
    ['an attempt no entry asks for', '    prompt:\n      - say: a\n        attempt: [1, 3]\n', 'steps.0.prompt', /no entry asks for attempt 2/],
    ['only error entries', '    prompt:\n      - say: a\n        errorType: timeout\n', 'steps.0.prompt', /no entry asks for attempt 1, 2, 3/],
    [
      'a confirm entry on a step without requireMatchingInputs',
      '    prompt:\n      - say: a\n      - say: b\n        requireMatchingInputs: true\n',
      'steps.0.prompt.1.requireMatchingInputs',
      /needs requireMatchingInputs: true on the step/,
    ],
    ['retryPrompt with entries', '    retryPrompt: again\n    prompt:\n      - say: a\n', 'steps.0.retryPrompt', /plain-string prompt/],
    ['validCardTypes on another kind', '    validCardTypes: [visa]\n    prompt: a\n', 'steps.0.validCardTypes', /card-number only/, 'expiry'],
    ['an unknown brand', '    validCardTypes: [visa, diners-club]\n    prompt: a\n', 'steps.0.validCardTypes.1', /Invalid enum value/],
    ['a language that is not a tag', '    language: spanish\n    prompt: a\n', 'steps.0.language', /language tag/],
    ['a voice Twilio does not have', '    prompt:\n      - say: a\n        voice: Siri\n', 'steps.0.prompt.0.voice', /Polly/],
    [
      'language on a play entry',
      '    prompt:\n      - say: a\n      - play: https://prompts.example.com/x.mp3\n        language: en-US\n',
      'steps.0.prompt.1.language',
      /apply to say, not play/,
    ],
    ['an unknown key on an entry', '    prompt:\n      - say: a\n        for: payment-card-number\n', 'steps.0.prompt.0', /Unrecognized key/],
  ])('refuses %s, naming the file, the path and the reason', (_what, stepYaml, where, reason, kind = 'card-number') => {
    const yaml = flowWith(`  - collect: c\n    kind: ${kind}\n${stepYaml}`);
    let message = '';
    try {
      parseFlow('flows/bad.yaml', yaml);
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toContain('flows/bad.yaml');
    expect(message).toContain(`at ${where}:`);
    expect(message).toMatch(reason);
  });

  it('takes requireMatchingInputs with its confirm and mismatch entries, and a postal code with bounds', () => {
    const s = collectOf(
      flowWith(
        '  - collect: a\n    kind: digits\n    requireMatchingInputs: true\n    prompt:\n      - say: a\n      - say: again\n        requireMatchingInputs: true\n      - say: no match\n        errorType: input-matching-failed\n',
      ),
    );
    expect(s.requireMatchingInputs).toBe(true);
    const p = collectOf(
      flowWith(
        '  - collect: zip\n    kind: postal-code\n    minLength: 5\n    maxLength: 5\n    prompt:\n      - say: zip\n      - say: five digits\n        errorType: invalid-postal-code\n',
      ),
    );
    expect(p).toMatchObject({ kind: 'postal-code', sensitive: true, minLength: 5, maxLength: 5, requireMatchingInputs: false });
  });
});

describe('rendering prompts as TwiML', () => {
  it('renders each part inside the <Gather> (Say with its language and voice, else the flow’s; Play), and the second entry of a pair to its own action', () => {
    const flow = parseFlow('t.yaml', flowWith('  - say: hi\n', 'language: es-MX\nvoice: Polly.Mia\n'));
    const xml = renderVerbs(
      [
        { verb: 'say', text: 'Hello', language: 'en-US', voice: 'Polly.Joanna' },
        { verb: 'play', url: 'https://prompts.example.com/jingle.mp3' },
        {
          verb: 'gather',
          field: 'a',
          step: 2,
          attempt: 1,
          confirm: true,
          prompts: [{ play: 'https://prompts.example.com/beep.mp3' }, { say: 'Otra vez.' }],
          timeoutSeconds: 10,
          sensitive: true,
        },
      ],
      { publicUrl: 'https://ivr.example.com', flow },
    );
    // what Twilio (the emulator, which refuses what Twilio refuses) makes of it
    expect(parseTwiml(xml)).toEqual([
      { verb: 'Say', text: 'Hello', language: 'en-US', voice: 'Polly.Joanna', loop: 1 },
      { verb: 'Play', url: 'https://prompts.example.com/jingle.mp3', digits: undefined, loop: 1 },
      expect.objectContaining({
        verb: 'Gather',
        action: 'https://ivr.example.com/twilio/gather/2/1/confirm',
        prompts: [
          { verb: 'Play', url: 'https://prompts.example.com/beep.mp3', digits: undefined, loop: 1 },
          { verb: 'Say', text: 'Otra vez.', language: 'es-MX', voice: 'Polly.Mia', loop: 1 },
        ],
      }),
    ]);
  });
});

describe("the service's own words in the flow's language", () => {
  it('apologises in Spanish for a Spanish flow and in English otherwise', () => {
    const es = parseFlow('es.yaml', flowWith('  - say: hola\n', 'language: es-MX\nvoice: Polly.Mia\n'));
    expect(parseTwiml(safeTwiml('https://tw.example.com', es))[0]).toEqual({
      verb: 'Say',
      text: expect.stringMatching(/^Lo sentimos, no podemos completar su solicitud/),
      language: 'es-MX',
      voice: 'Polly.Mia',
      loop: 1,
    });
    expect(parseTwiml(safeTwiml('https://tw.example.com'))[0]).toMatchObject({ verb: 'Say', text: `${APOLOGY} Please call again later. Goodbye.` });
  });
});
