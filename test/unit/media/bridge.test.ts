/**
 * The bridge's events on its own: a real caller path (detector, tracker, masker) fed a caller's
 * frames. A capture takes each `tone` (a stretch the masking net marked) as keeping its
 * recordings paused past its end, and the '#' that ends an entry as ending that hold
 * (captures/executor.ts onTone, end.ts held): so a key's tone is told before the key.
 */
import { Bridge } from '../../../src/media/bridge';
import type { Metrics } from '../../../src/metrics';
import type { MediaStream } from '../../../src/media/stream';
import { concat, keyTone, silence } from '../../support/audio';
import { GAP_SAMPLES, TONE_SAMPLES } from '../../support/agents';

const caller = { sendMedia: () => undefined, sendClear: () => undefined } as unknown as MediaStream;
const metrics = { tonesMasked: { inc: () => undefined }, dtmfEvents: { inc: () => undefined } } as unknown as Metrics;

function told(bridge: Bridge): string[] {
  const events: string[] = [];
  bridge.on('tone', () => events.push('tone'));
  bridge.on('key', (k) => events.push(k.digit));
  return events;
}

function feed(bridge: Bridge, audio: Uint8Array): void {
  for (let i = 0; i + 160 <= audio.length; i += 160) bridge.callerFrame(Buffer.from(audio.subarray(i, i + 160)).toString('base64'));
}

describe('bridge: a tone before its key', () => {
  it.each([false, true])('in-band keys, each told as a tone before it is reported (blanket: %s)', (blanket) => {
    const bridge = new Bridge('CA' + '1'.repeat(32), caller, 40, metrics);
    bridge.setBlanket(blanket);
    const events = told(bridge);
    feed(bridge, concat([...'12#'].flatMap((k) => [keyTone(k, TONE_SAMPLES), silence(GAP_SAMPLES)]).concat(silence(1600))));
    expect(events).toEqual(['tone', '1', 'tone', '2', 'tone', '#']);
  });

  it("a dtmf event's burst is told as a tone as it comes, before its key is reported with the next frame", () => {
    const bridge = new Bridge('CA' + '1'.repeat(32), caller, 40, metrics);
    const events = told(bridge);
    feed(bridge, silence(800));
    bridge.callerDtmf('#');
    expect(events).toEqual(['tone']);
    feed(bridge, silence(1600));
    expect(events).toEqual(['tone', '#']);
  });
});
