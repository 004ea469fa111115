/**
 * What a bridge ended on purpose leaves in the record (registry.ts `end`, after the other call was
 * ended and before the streams close): its pending agent token gone, the call's record ended by
 * compare-and-set (calls/session.ts `endSession`: counted out of the active calls and into the
 * ended ones here, once, whatever else ends it), a sealed value let go, `bridge.ended` audited
 * and `call.ended` published (only when this end moved the record: one publish a call, whatever
 * reports its end), also for a record an erasure took while the call was live.
 */
import { endSession } from '../calls/session';
import { errFields } from '../log';
import type { Bridge } from './bridge';
import type { RegistryDeps } from './registry';

type EndDeps = Pick<RegistryDeps, 'store' | 'keys' | 'calls' | 'metrics' | 'vault' | 'audit' | 'events' | 'log'>;

/** `endHeard`: the bridge ended on its caller's `call.ended` (registry.ts), already on the bus: not published again */
export async function recordBridgeEnd(d: EndDeps, bridge: Bridge, reason: string, endHeard = false): Promise<void> {
  const callSid = bridge.callSid;
  try {
    if (bridge.agentToken) await d.store.del(d.keys.streamToken(bridge.agentToken));
    let endedNow = false;
    // ended here from tonewall's hands: counted out of the active calls here, not again by its status callback
    let left = false;
    let sealed: string | undefined;
    const stored = await d.calls.update(callSid, (s) => {
      // run again on the record that won when another writer changed it first
      const end = endSession(s);
      [endedNow, left, sealed] = [end !== null, end?.left ?? false, end?.sealed];
      if (!end) return false;
    });
    if (left) d.metrics.callsActive.dec();
    // its status callback, later, finds it ended: counted here, as the leg's stream stopping ends a call Twilio reports completed
    if (endedNow) d.metrics.callsEnded.inc({ status: 'completed' });
    try {
      if (sealed) await d.vault.erase(sealed);
      await d.audit.append(callSid, { type: 'bridge.ended', reason, tonesMasked: bridge.tonesMaskedTotal });
    } finally {
      // `call.ended` is published by the end that moved the record, and by no other (its status
      // callback finds it ended and publishes nothing), so it is sent even when the steps above fail.
      // A record gone while the call was live (its caller erased): no one else can say the call is
      // over, and the panels showing it must hear so (they are told of a gone call's end only),
      // unless the bridge ended on that very event (an erasure of a caller still held published it)
      if (endedNow) await d.events.publish({ type: 'call.ended', callSid, status: 'completed' });
      else if (stored === null && !endHeard)
        await d.events.publish({ type: 'call.ended', callSid, status: 'completed', ...(bridge.agentActor ? { agent: bridge.agentActor } : {}) });
    }
  } catch (err) {
    d.log.error({ callSid, err: errFields(err) }, 'bridge cleanup failed');
  }
}
