import { newSid, rfc2822 } from './ids';

export interface IncomingNumber {
  sid: string;
  phoneNumber: string;
  voiceUrl?: string;
  voiceMethod?: string;
  statusCallback?: string;
  statusCallbackMethod?: string;
}

/** The account's Twilio numbers, keyed by PN sid, as the IncomingPhoneNumbers API shows them. */
export class NumberBook {
  readonly bySid = new Map<string, IncomingNumber>();
  private readonly created = new Map<string, Date>();

  add(phoneNumber: string): string {
    const existing = this.byPhoneNumber(phoneNumber);
    if (existing) return existing.sid;
    const sid = newSid('PN');
    this.bySid.set(sid, { sid, phoneNumber });
    this.created.set(sid, new Date());
    return sid;
  }

  byPhoneNumber(phoneNumber: string): IncomingNumber | undefined {
    for (const n of this.bySid.values()) if (n.phoneNumber === phoneNumber) return n;
    return undefined;
  }

  toJson(n: IncomingNumber, accountSid: string): Record<string, unknown> {
    const created = rfc2822(this.created.get(n.sid) ?? new Date());
    return {
      account_sid: accountSid,
      address_requirements: 'none',
      address_sid: null,
      api_version: '2010-04-01',
      beta: false,
      capabilities: { voice: true, sms: true, mms: true, fax: false },
      date_created: created,
      date_updated: created,
      emergency_status: 'Inactive',
      friendly_name: n.phoneNumber,
      origin: 'twilio',
      phone_number: n.phoneNumber,
      sid: n.sid,
      sms_url: '',
      status: 'in-use',
      status_callback: n.statusCallback ?? '',
      status_callback_method: n.statusCallbackMethod ?? 'POST',
      trunk_sid: null,
      uri: `/2010-04-01/Accounts/${accountSid}/IncomingPhoneNumbers/${n.sid}.json`,
      voice_application_sid: null,
      voice_caller_id_lookup: false,
      voice_fallback_method: 'POST',
      voice_fallback_url: null,
      voice_method: n.voiceMethod ?? 'POST',
      voice_url: n.voiceUrl ?? null,
    };
  }
}
