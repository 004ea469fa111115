/** The kinds of value an IVR step or an agent capture can collect (CONTRACT §3). */
export const FIELD_KINDS = ['digits', 'card-number', 'expiry', 'security-code', 'date', 'routing-number', 'postal-code'] as const;

export type FieldKind = (typeof FIELD_KINDS)[number];

export function isFieldKind(value: unknown): value is FieldKind {
  return typeof value === 'string' && (FIELD_KINDS as readonly string[]).includes(value);
}
