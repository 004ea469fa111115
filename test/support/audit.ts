/** The audit MAC key unit tests seal their trails with (the app derives its own from AUDIT_KEY). */
import { AuditKey } from '../../src/audit';

export const TEST_AUDIT_KEY = new AuditKey(Buffer.from('test-audit-key-0123456789abcdef-0123456789'));
