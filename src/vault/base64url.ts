/**
 * Strict base64 decoding. Node's decoder skips characters it does not know and ignores stray
 * bits, so two different texts can decode to the same bytes; a tampered envelope could then
 * still open. These accept only the canonical text of the bytes they return.
 */
const B64URL = /^[A-Za-z0-9_-]*$/;
const B64 = /^[A-Za-z0-9+/]*={0,2}$/;

export function encodeB64url(bytes: Buffer): string {
  return bytes.toString('base64url');
}

/** The bytes of canonical unpadded base64url text, or undefined. */
export function decodeB64urlStrict(text: string): Buffer | undefined {
  if (!B64URL.test(text)) return undefined;
  const bytes = Buffer.from(text, 'base64url');
  return bytes.toString('base64url') === text ? bytes : undefined;
}

/** The bytes of canonical padded standard base64 text, or undefined. */
export function decodeB64Strict(text: string): Buffer | undefined {
  if (!B64.test(text) || text.length % 4 !== 0) return undefined;
  const bytes = Buffer.from(text, 'base64');
  return bytes.toString('base64') === text ? bytes : undefined;
}
