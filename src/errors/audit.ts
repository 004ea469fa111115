import { codedWith } from './base';

export const AuditErrors = {
  /** the message names the key only, never the value */
  personalData: codedWith('TW_ERR_AUDIT_PERSONAL_DATA', 500, (key: string) => `audit entry refused: "${key}" looks like personal data`),
  invalid: codedWith('TW_ERR_AUDIT_ENTRY_INVALID', 500, (detail: string) => `audit entry refused: ${detail}`),
} as const;
