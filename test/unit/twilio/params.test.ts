/**
 * Twilio's form parameters as the webhook routes take them: every value a string, or nothing.
 */
import { formParams } from '../../../src/twilio/params';

describe('formParams', () => {
  test('a form of strings is taken as it is', () => {
    const body = { CallSid: 'CA' + 'a'.repeat(32), Digits: '', To: '+15005550006' };
    expect(formParams(body)).toEqual(body);
  });

  test('a repeated name (parsed as a list) makes the whole form nothing: its signature cannot hold', () => {
    expect(formParams({ CallSid: 'CA' + 'a'.repeat(32), Digits: ['1', '2'] })).toEqual({});
  });

  test('no body, a string, a list or a number is nothing', () => {
    for (const body of [undefined, null, 'CallSid=CA1', ['a'], 42]) expect(formParams(body)).toEqual({});
  });

  test('a value that is not a string (a nested object) is nothing', () => {
    expect(formParams({ CallSid: { toString: () => 'CA1' } })).toEqual({});
  });
});
