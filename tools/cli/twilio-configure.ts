/**
 * `npm run twilio:configure -- --number +1… --public-url https://…`: points a Twilio number's
 * Voice URL and status callback at the service, over Twilio's REST API (the `twilio` client).
 */
import 'dotenv/config';
import { parseArgs } from 'node:util';
import { createTwilioClient } from '../../src/twilio/rest';

export async function configureNumber(opts: {
  accountSid: string;
  authToken: string;
  apiBaseUrl: string;
  number: string;
  publicUrl: string;
}): Promise<{ sid: string; voiceUrl: string; statusCallback: string }> {
  // what Twilio is given must be https: it dials media streams over wss only (31922), and a PCI
  // Mode account refuses a <Gather> whose action is http (13337)
  if (!URL.canParse(opts.publicUrl) || new URL(opts.publicUrl).protocol !== 'https:') {
    throw new Error(`--public-url must be an https origin (Twilio streams media to wss only, and PCI Mode refuses http actions), not ${opts.publicUrl}`);
  }
  const client = createTwilioClient(opts);
  const origin = opts.publicUrl.replace(/\/+$/, '');
  const found = await client.incomingPhoneNumbers.list({ phoneNumber: opts.number, limit: 1 });
  if (found.length === 0) throw new Error(`no incoming phone number ${opts.number} on this account`);
  const updated = await client.incomingPhoneNumbers(found[0].sid).update({
    voiceUrl: `${origin}/twilio/voice`,
    voiceMethod: 'POST',
    statusCallback: `${origin}/twilio/status`,
    statusCallbackMethod: 'POST',
  });
  return { sid: updated.sid, voiceUrl: updated.voiceUrl, statusCallback: updated.statusCallback };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { number: { type: 'string' }, 'public-url': { type: 'string' } } });
  const number = values.number;
  const publicUrl = values['public-url'] ?? process.env.PUBLIC_URL;
  const accountSid = process.env.TWILIO_ACCOUNT_SID;
  const authToken = process.env.TWILIO_AUTH_TOKEN;
  if (!number || !/^\+[1-9]\d{6,14}$/.test(number)) throw new Error('--number must be an E.164 number (+1…)');
  if (!publicUrl) throw new Error('--public-url (or PUBLIC_URL) must be the https origin Twilio calls');
  if (!accountSid || !authToken) throw new Error('TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN must be set');
  const r = await configureNumber({ accountSid, authToken, apiBaseUrl: process.env.TWILIO_API_BASE_URL ?? 'https://api.twilio.com', number, publicUrl });
  console.log(`${number} (${r.sid}): Voice URL ${r.voiceUrl}, status callback ${r.statusCallback}`);
}

if (require.main === module) {
  main().catch((e) => {
    console.error(`twilio:configure: ${(e as Error).message}`);
    process.exit(1);
  });
}
