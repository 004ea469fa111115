/**
 * The logger's second line of defence: an error whose message quotes a request's URL (Fastify's
 * own `FST_ERR_REP_ALREADY_SENT` does, query and all) is logged without the URL's query string
 * or any number standing in it.
 */
import { Writable } from 'node:stream';
import { createLogger, redactText } from '../../src/log';

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

  test('a number standing in a path is masked; a Twilio SID and short digits are not', () => {
    expect(redactText('no route /v1/subjects/+15551230000/x for CA0123456789abcdef0123456789abcdef (step 12)')).toBe(
      'no route /v1/subjects/[number]/x for CA0123456789abcdef0123456789abcdef (step 12)',
    );
  });
});
