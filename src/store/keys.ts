/**
 * Every store key and pub/sub channel is built here (no channel name is made anywhere else), so the layout is in one place and a prefix can
 * isolate deployments (or tests) sharing one Redis. No key holds a plain captured value or a
 * full caller number: subjects are indexed by an HMAC of the number.
 */
export interface Keys {
  call(callSid: string): string;
  callIndex(): string;
  webhookReplay(digest: string): string;
  streamToken(token: string): string;
  /** every stream token issued for a call (erasure removes each: a token's grant names its call) */
  streamTokens(callSid: string): string;
  stream(callSid: string): string;
  vault(token: string): string;
  /** every vault token minted for one call, the replaced ones included (erasure finds them here) */
  vaultIndex(callSid: string): string;
  audit(callSid: string): string;
  /** the calls whose audit trails began on a day (YYYY-MM-DD), for the export */
  auditDay(day: string): string;
  offer(callSid: string): string;
  offers(): string;
  capture(callSid: string, captureId: string): string;
  /** every capture id a call has had (erasure removes each record) */
  captures(callSid: string): string;
  captureLock(callSid: string): string;
  subject(subjectHash: string): string;
  delivery(callSid: string, processor: string): string;
  deliveryLease(callSid: string, processor: string): string;
  deliveries(): string;
  erasure(subjectHash: string): string;
  /** an erasure forward to a processor not yet acknowledged (processors/erase-queue.ts): ids, or a body naming the caller sealed */
  erasureForward(receiptId: string, processor: string): string;
  erasureForwardLease(receiptId: string, processor: string): string;
  /** the erasure forwards still to be acknowledged */
  erasureForwards(): string;
  /** the kept forwards whose body is sealed (it names the caller): an index of their own, which an instance older than sealing never reads */
  erasureForwardsSealed(): string;
  /** a deletion of an erased caller's recording Twilio has not taken yet (privacy/recording-queue.ts): SIDs, the call's sealed */
  recordingErasure(recordingSid: string): string;
  recordingErasureLease(recordingSid: string): string;
  /** the recording deletions still to be tried */
  recordingErasures(): string;
  /** a drop-in capture waiting on its caller: when its call's status is next read (dropin/hangup-watch.ts) */
  dropinWatch(callSid: string): string;
  /** the calls whose drop-in capture waits on the caller, scanned by every instance */
  dropinWatches(): string;
  /** a drop-in result POSTed server to server to the app's return URL (dropin/result-delivery.ts) */
  dropinResult(callSid: string): string;
  dropinResultLease(callSid: string): string;
  /** the drop-in results still to be delivered */
  dropinResults(): string;
  /** held by the instance sweeping the calls this period (calls/sweep.ts) */
  callSweep(): string;
  /** an agent token signed out before its exp, by a digest of it (auth/revocations.ts), never the token */
  revokedToken(digest: string): string;
  /** an agent token's last use, by the same digest (auth/idle.ts), never the token */
  tokenActive(digest: string): string;
  /** sessions ended, to every instance: their sockets close (bus/sessions.ts) */
  sessionsChannel(): string;
  /** call events, to every instance (bus/events.ts) */
  eventsChannel(): string;
  /** commands for one instance (bus/commands.ts) */
  instanceChannel(instanceId: string): string;
  /** requests one instance is asked to answer, and the replies to its own (bus/rpc.ts) */
  requestChannel(instanceId: string): string;
  replyChannel(instanceId: string): string;
  prefix: string;
}

export function makeKeys(prefix = 'tw:'): Keys {
  const k = (...parts: string[]) => prefix + parts.join(':');
  return Object.freeze({
    prefix,
    call: (callSid: string) => k('call', callSid),
    callIndex: () => k('calls'),
    webhookReplay: (digest: string) => k('replay', digest),
    streamToken: (token: string) => k('stoken', token),
    streamTokens: (callSid: string) => k('stokens', callSid),
    stream: (callSid: string) => k('stream', callSid),
    vault: (token: string) => k('vault', token),
    vaultIndex: (callSid: string) => k('vaultidx', callSid),
    audit: (callSid: string) => k('audit', callSid),
    auditDay: (day: string) => k('audit', 'day', day),
    offer: (callSid: string) => k('offer', callSid),
    offers: () => k('offers'),
    capture: (callSid: string, captureId: string) => k('capture', callSid, captureId),
    captures: (callSid: string) => k('captures', callSid),
    captureLock: (callSid: string) => k('capturelock', callSid),
    subject: (subjectHash: string) => k('subject', subjectHash),
    delivery: (callSid: string, processor: string) => k('delivery', callSid, processor),
    deliveryLease: (callSid: string, processor: string) => k('lease', callSid, processor),
    deliveries: () => k('deliveries'),
    erasure: (subjectHash: string) => k('erasure', subjectHash),
    erasureForward: (receiptId: string, processor: string) => k('erasefwd', receiptId, processor),
    erasureForwardLease: (receiptId: string, processor: string) => k('erasefwd', 'lease', receiptId, processor),
    erasureForwards: () => k('erasefwd', 'pending'),
    erasureForwardsSealed: () => k('erasefwd', 'pending-sealed'),
    recordingErasure: (recordingSid: string) => k('erasrec', recordingSid),
    recordingErasureLease: (recordingSid: string) => k('erasrec', 'lease', recordingSid),
    recordingErasures: () => k('erasrec', 'pending'),
    dropinWatch: (callSid: string) => k('dropin', 'watch', callSid),
    dropinWatches: () => k('dropin', 'watches'),
    dropinResult: (callSid: string) => k('dropin', 'result', callSid),
    dropinResultLease: (callSid: string) => k('dropin', 'lease', callSid),
    dropinResults: () => k('dropin', 'results'),
    callSweep: () => k('sweep', 'calls'),
    revokedToken: (digest: string) => k('revoked', digest),
    tokenActive: (digest: string) => k('active', digest),
    sessionsChannel: () => k('ch', 'sessions'),
    eventsChannel: () => k('ch', 'events'),
    instanceChannel: (instanceId: string) => k('ch', 'instance', instanceId),
    requestChannel: (instanceId: string) => k('ch', 'request', instanceId),
    replyChannel: (instanceId: string) => k('ch', 'reply', instanceId),
  });
}
