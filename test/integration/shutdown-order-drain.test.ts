/**
 * The stop of shutdown-order.test.ts with a drain (SHUTDOWN_DRAIN_MS 1 s, the drain run before
 * the close): the same promises, kept the same way (support/stop-order.ts). The order was right
 * here before the fix for a stop with no drain; this keeps both orders under one check.
 */
import { spawnedPairSuite } from '../support/spawned-pair';
import { stopWithCapture } from '../support/stop-order';

const pair = spawnedPairSuite();

it(
  'on Redis, SIGTERM with a drain: the capture fails `shutdown`, its recordings resumed; the bridge lost `shutdown`, the call taken up by the other instance',
  () => stopWithCapture(pair, 'https://ivr.stop-order-drain.test', 1_000),
  90_000,
);
