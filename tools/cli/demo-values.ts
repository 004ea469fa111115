/** What the demo's simulated caller keys: Visa's published test number, never a real card. */
export const DEMO_CARD = '4111111111111111';
