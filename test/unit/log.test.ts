/**
 * The logger's second line of defence: an error whose message quotes a request's URL (Fastify's
 * own `FST_ERR_REP_ALREADY_SENT` does, query and all) is logged without the URL's query string
 * or any number standing in it; a caller's number or keys in a field at any depth, in a child's
 * bindings, in the message or in what an error carries, are not written.
 */
import { Writable } from 'node:stream';
import { createLogger, redactText, redactUrl, scrubbed } from '../../src/log';

function capture() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(chunk.toString('utf8'));
      cb();
    },
  });
  return { log: createLogger('info', stream), lines };
}

describe('logger', () => {
  test("an error quoting a URL loses the URL's query and numbers, in its message and its stack", () => {
    const { log, lines } = capture();
    const err = new Error('Reply was already sent, did you forget to "return reply" in "/twilio/voice?From=%2B15551230000&Digits=4111111111111111" (POST)?');
    log.warn({ err }, 'reply');
    const text = lines.join('');
    expect(text).not.toContain('5551230000');
    expect(text).not.toContain('4111111111111111');
    const logged = JSON.parse(lines[0]) as { err: { message: string; stack: string; type: string } };
    expect(logged.err.message).toBe('Reply was already sent, did you forget to "return reply" in "/twilio/voice?[query]" (POST)?');
    expect(logged.err.stack).toContain('/twilio/voice?[query]');
    expect(logged.err.type).toBe('Error');
  });

  test('a number written in groups is masked; a date, a time and an address are not', () => {
    for (const n of [
      '+1 555 123 0000',
      '+44 (20) 7946-0000',
      '+1-555-123-0000',
      '4111 1111 1111 1111',
      '4111-1111-1111-1111',
      '3782 822463 10005',
      '555-765-4321',
      '(555) 765-4321',
      '555.765.4321',
      '555 765 4321',
    ]) {
      expect(redactText(`keyed ${n}.`)).toBe('keyed [number].');
    }
    const plain = 'at 2026-12-06T02:47:37.123Z from 10.0.0.12:43122 and 192.168.100.200, 1 2 3 4, step 12-13, took 250 ms';
    expect(redactText(plain)).toBe(plain);
  });

  test('a number standing in a path is masked; a Twilio SID and short digits are not', () => {
    expect(redactText('no route /v1/subjects/+15551230000/x for CA0123456789abcdef0123456789abcdef (step 12)')).toBe(
      'no route /v1/subjects/[number]/x for CA0123456789abcdef0123456789abcdef (step 12)',
    );
  });

  test('a card number glued to letters is masked wherever it stands; a phone number glued after its +', () => {
    for (const [text, masked] of [
      ['card4111111111111111', 'card[number]'],
      ['card4222222222222', 'card[number]'],
      ['pan=x4111111111111111y', 'pan=x[number]y'],
      ['ref_4111111111111111abc', 'ref_[number]abc'],
      // Amex (15) and a 19-digit card; one glued to more digits (an expiry) is found inside them
      ['amex378282246310005.', 'amex[number].'],
      ['n6011000990139424000x', 'n[number]x'],
      ['exp1228x4111111111111111', 'exp1228x[number]'],
      ['k41111111111111111228', 'k[number]'],
      // a SID with a letter before it or a hex digit after it is no SID
      [`xCA4111111111111111${'a'.repeat(16)}`, `xCA[number]${'a'.repeat(16)}`],
      [`CA4111111111111111${'a'.repeat(17)}`, `CA[number]${'a'.repeat(17)}`],
      ['from+15551230000', 'from[number]'],
      ['caller+15551230000abc', 'caller[number]abc'],
      ['to%2B15551230000.', 'to[number].'],
      ['from+1 555 123 0000', 'from[number]'],
    ]) {
      expect(redactText(text)).toBe(masked);
    }
  });

  test("a Twilio SID keeps its hex, a card number's digits among them too; a run that is no card number keeps its digits", () => {
    // each SID's hex opens with a Luhn-valid run (4111…1111, 5555…4444)
    const sids = [`CA4111111111111111${'ab'.repeat(8)}`, `RE5555555555554444${'cd'.repeat(8)}`, `PK${'0'.repeat(32)}`, `AC4111111111111111${'AB'.repeat(8)}`];
    for (const sid of sids) {
      const text = `call ${sid} at /Calls/${sid}.json (${sid},${sid})`;
      expect(redactText(text)).toBe(text);
    }
    const kept = [
      // 13 digits failing the Luhn check (4222222222222 passes)
      'card4222222222223',
      // 12 digits is too short for a card number
      'id411111111111x',
      // a compact timestamp, an ISO one, a date
      'at 20261206T024737Z',
      'at 2026-12-06T02:47:37.123Z',
      'on 2026-12-06',
      // a hash's hex
      'sha256 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08',
    ];
    for (const text of kept) expect(redactText(text)).toBe(text);

    const { log, lines } = capture();
    const at = 1796591581111;
    log.child({ callSid: sids[0] }).info({ at, recordingSid: sids[1], note: 'pan_4111111111111111' }, 'step for %s', sids[0]);
    const logged = JSON.parse(lines[0]) as Record<string, unknown>;
    // epoch milliseconds are logged as a number, not text: kept, though 13 digits long
    expect(logged).toEqual(expect.objectContaining({ callSid: sids[0], recordingSid: sids[1], at, note: 'pan_[number]', msg: `step for ${sids[0]}` }));
  });

  test("a caller's SIP user part or Client identity is masked in any text; the host, and forms already masked, stay", () => {
    expect(redactText('no route for sip:zoe.q@pbx.example.com;transport=tls or SIPS:Zoe:secret@Pbx.Example.com:5061')).toBe(
      'no route for sip:[identity]@pbx.example.com;transport=tls or SIPS:[identity]@Pbx.Example.com:5061',
    );
    expect(redactText('dialing client:Mallory7, then client:a.b@example.com.')).toBe('dialing client:[identity], then client:[identity].');
    expect(redactText('sip:+15551230000@trunk.example.com')).toBe('sip:[identity]@trunk.example.com');
    const masked = 'from sip:****@pbx.example.com and client:****, or +*******0000';
    expect(redactText(masked)).toBe(masked);

    const { log, lines } = capture();
    log.child({ callSid: 'CA' + '1'.repeat(32) }).warn({ detail: { why: 'refused sip:zoe.q@pbx.example.com' } }, 'caller client:Mallory7 %s', 'sips:zoe.q@h');
    const text = lines.join('');
    expect(text).not.toMatch(/zoe\.q|Mallory7/);
    expect(text).toContain('sip:[identity]@pbx.example.com');
  });

  test("a field named for a caller's number or keys is censored at any depth, not only where redact paths reach", () => {
    const { log, lines } = capture();
    log.info({ webhook: { params: { call: { From: '+15551230000', Digits: '4111111111111111', CallSid: 'CA' + '1'.repeat(32) } } } }, 'deep');
    const text = lines.join('');
    expect(text).not.toContain('5551230000');
    expect(text).not.toContain('4111111111111111');
    const logged = JSON.parse(lines[0]) as { webhook: { params: { call: Record<string, string> } } };
    expect(logged.webhook.params.call).toEqual({ From: '[redacted]', Digits: '[redacted]', CallSid: 'CA' + '1'.repeat(32) });
  });

  test('a number in any text is masked: a nested string, an array, the message, a child binding', () => {
    const { log, lines } = capture();
    const child = log.child({ leg: { note: 'for +15551230000' } }).child({ step: 2 });
    child.warn({ list: ['card 4111111111111111 declined', 12345678901], n: 5 }, 'retry for +1 555 123 0000 and 15551230000');
    child.info('for %s', '+15551230000');
    child.info('params %o', { From: '+15551230000', step: 2 });
    const text = lines.join('');
    expect(text).not.toContain('5551230000');
    expect(text).not.toContain('4111111111111111');
    const logged = JSON.parse(lines[0]) as { leg: { note: string }; step: number; list: [string, number]; n: number; msg: string };
    // a grandchild keeps its parent's bindings
    expect(logged.leg.note).toBe('for [number]');
    expect(logged.step).toBe(2);
    expect(logged.list[0]).toBe('card [number] declined');
    // numbers as numbers are left alone: times, counts and sizes are logged as numbers
    expect(logged.list[1]).toBe(12345678901);
    expect(logged.n).toBe(5);
    expect(logged.msg).toBe('retry for [number] and [number]');
    expect((JSON.parse(lines[1]) as { msg: string }).msg).toBe('for [number]');
    expect((JSON.parse(lines[2]) as { msg: string }).msg).toBe('params {"From":"[redacted]","step":2}');
  });

  test("what an error carries (a REST client's request, a cause) is scrubbed at any depth", () => {
    const { log, lines } = capture();
    const err = Object.assign(new Error('request failed'), {
      code: 'E_REST',
      request: { body: { To: '+15551230000' }, url: 'https://api.twilio.com/Calls.json?From=%2B15551230000' },
      details: { message: 'number 15551230000 is not reachable' },
    });
    log.error({ err }, 'rest');
    const text = lines.join('');
    expect(text).not.toContain('5551230000');
    const logged = JSON.parse(lines[0]) as { err: { code: string; request: { body: { To: string }; url: string }; details: { message: string } } };
    expect(logged.err.code).toBe('E_REST');
    expect(logged.err.request.body.To).toBe('[redacted]');
    expect(logged.err.request.url).toBe('https://api.twilio.com/Calls.json?[query]');
    expect(logged.err.details.message).toBe('number [number] is not reachable');
  });

  test('scrubbed: a cycle and a nesting past its depth are not followed; a Date and a Buffer as JSON writes them', () => {
    const a: Record<string, unknown> = { name: 'a' };
    a.self = a;
    expect(scrubbed(a)).toEqual({ name: 'a', self: '[circular]' });
    let deep: Record<string, unknown> = { From: '+15551230000' };
    for (let i = 0; i < 12; i++) deep = { d: deep };
    expect(JSON.stringify(scrubbed(deep))).not.toContain('5551230000');
    const at = new Date(0);
    expect(scrubbed({ at, raw: Buffer.from('ab') })).toEqual({ at: at.toISOString(), raw: { type: 'Buffer', data: [97, 98] } });
    // the same object twice, not in a cycle, is written twice
    const shared = { k: 1 };
    expect(scrubbed({ x: shared, y: shared })).toEqual({ x: { k: 1 }, y: { k: 1 } });
  });

  test("Fastify's request lines: the request's method, URL without numbers and id; the reply's status, not its socket", () => {
    const { log, lines } = capture();
    const req = Object.create({ method: 'POST', url: '/v1/subjects/+15551230000?x=1', id: 'req-1' }) as object;
    log.info({ req }, 'incoming request');
    log.info({ res: { statusCode: 200, raw: { remoteAddress: '10.0.0.1' } }, responseTime: 1.5 }, 'request completed');
    expect(JSON.parse(lines[0]).req).toEqual({ method: 'POST', url: '/v1/subjects/[subject]?[query]', id: 'req-1' });
    expect(JSON.parse(lines[1]).res).toEqual({ statusCode: 200 });
  });

  test('an error under any other field is written as the err serializer writes one, scrubbed; an object logged as err is not changed', () => {
    const { log, lines } = capture();
    const nested = Object.assign(new Error('call +15551230000 failed'), { details: { To: '+15551230000' } });
    const plain = { code: 'E_X', message: 'for 15551230000' };
    log.warn({ context: { cause: nested }, err: plain }, 'nested');
    expect(lines.join('')).not.toContain('5551230000');
    const logged = JSON.parse(lines[0]) as { context: { cause: { type: string; message: string; details: { To: string } } }; err: { message: string } };
    expect(logged.context.cause).toEqual(expect.objectContaining({ type: 'Error', message: 'call [number] failed', details: { To: '[redacted]' } }));
    expect(logged.err.message).toBe('for [number]');
    expect(plain.message).toBe('for 15551230000');
  });
});

describe('redactUrl', () => {
  // +1 555 123 4567, each character percent-escaped as a client may send it: the router reads it as the number
  const ESCAPED_NUMBER = '%2B%31%35%35%35%31%32%33%34%35%36%37';

  test('reads percent-escaped letters and digits in the path as the router does, then redacts', () => {
    expect(redactUrl(`/v1/%73ubjects/${ESCAPED_NUMBER}`)).toBe('/v1/subjects/[subject]');
    expect(redactUrl('/v1/%53UBJECTS/%2b15551234567')).toBe('/v1/SUBJECTS/[subject]');
    expect(redactUrl('/%6Dedia/%74oken-abc')).toBe('/media/[token]');
    expect(redactUrl(`/v1/subject/${ESCAPED_NUMBER}/x`)).toBe('/v1/subject/[number]/x');
    // spaces escaped between groups make a number as people write it
    expect(redactUrl('/v1/subject/%2B1%20555%20123%204567')).toBe('/v1/subject/[number]');
    // an escaped slash is kept: the router does not split on it, so the subject stays one segment
    expect(redactUrl('/v1/%73ubjects/%2B1%2F555%2F1234567')).toBe('/v1/subjects/[subject]');
  });

  test('an absolute-form target (http://host/media/…) is redacted as its path is', () => {
    expect(redactUrl('http://tonewall.example/media/abc123?x=1')).toBe('http://tonewall.example/media/[token]?[query]');
    expect(redactUrl(`https://h:8443/v1/%73ubjects/${ESCAPED_NUMBER}`)).toBe('https://h:8443/v1/subjects/[subject]');
  });

  test('a card number glued to letters in the path is masked, a SID in it kept', () => {
    const sid = `CA4111111111111111${'ab'.repeat(8)}`;
    expect(redactUrl(`/v1/calls/${sid}/card4111111111111111`)).toBe(`/v1/calls/${sid}/card[number]`);
    expect(redactUrl('/v1/from%2B15551234567x')).toBe('/v1/from[number]x');
    expect(redactUrl('/v1/pan%3D%34111111111111111')).toBe('/v1/pan=[number]');
  });

  test('a malformed escape is left as sent, without throwing, and the rest still decoded; the query is replaced, never decoded', () => {
    expect(redactUrl('/v1/%73ubjects/%E0%A4%A/%G1/%')).toBe('/v1/subjects/[subject]/%G1/%');
    expect(redactUrl(`/v1/c%61lls/%/%2/${ESCAPED_NUMBER}%`)).toBe('/v1/calls/%/%2/[number]%');
    expect(redactUrl(`/twilio/voice?From=${ESCAPED_NUMBER}`)).toBe('/twilio/voice?[query]');
  });
});
