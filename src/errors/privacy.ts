import { coded } from './base';

/** What the subject routes answer about the subject itself (CONTRACT §7). */
export const PrivacyErrors = {
  /**
   * A subject request for what Twilio puts in `From` when the caller withheld who they are (a
   * placeholder number, `client:Anonymous`, an anonymous SIP URI): it is everyone's who withheld
   * it, so no call is filed under it and no request can name a caller by it
   */
  subjectWithheld: coded(
    'TW_ERR_PRIVACY_SUBJECT_WITHHELD',
    "the subject is Twilio's placeholder for a withheld caller ID and identifies no one: calls from a withheld caller ID are filed under no subject",
    422,
  ),
} as const;
