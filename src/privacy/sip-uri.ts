/**
 * A SIP URI as a caller's identity (RFC 3261 §19.1): what Twilio puts in `From` for a call from a
 * SIP endpoint or trunk, reduced to its address of record, `sip:user@host`. One person reaches us
 * with the same user and domain whatever port, transport or parameters their call came by, so
 * those are dropped; the scheme (`sip`, `sips`: the same address over TLS) and the host are
 * compared without case, the user part case-sensitively (§19.1.4). A password (deprecated, §19.1.1) is
 * never kept. Percent-escapes are normalised as RFC 3986 §6.2.2 does: an escaped unreserved
 * character is that character, any other escape keeps its upper-case hex (§19.1.4 holds escaped
 * and plain equal only outside the reserved set, so `%2B` is not `+`).
 */

/** the user part: unreserved, escaped or user-unreserved characters (§25.1 `user`) */
const USER = /^(?:[A-Za-z0-9\-_.!~*'()&=+$,;?/]|%[0-9A-Fa-f]{2})+$/;
/** §25.1 `password` */
const PASSWORD = /^(?:[A-Za-z0-9\-_.!~*'()&=+$,]|%[0-9A-Fa-f]{2})*$/;
/** a host name (or IPv4 address), each label letters, digits and inner hyphens, an optional final dot */
const HOSTNAME = /^(?=.{1,254}$)(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.?$/;
/** an IPv6 reference, brackets and all (its inside checked no further: it is only compared) */
const IPV6_REFERENCE = /^\[[0-9A-Fa-f:.]{2,45}\]$/;
const IPV4 = /^[0-9]{1,3}(?:\.[0-9]{1,3}){3}$/;
/** the host (a bracketed IPv6 address, or anything up to a port, parameter or header), its port, and the rest */
const HOSTPORT = /^(\[[^\]]*\]|[^:;?]*)(?::([0-9]{1,5}))?(.*)$/;
/** URI parameters and headers (§25.1 `uri-parameters`, `headers`): dropped, but only when well formed */
const PARAMS_AND_HEADERS = /^(?:;(?:[A-Za-z0-9\-_.!~*'()[\]/:&+$=]|%[0-9A-Fa-f]{2})*)*(?:\?(?:[A-Za-z0-9\-_.!~*'()[\]/:&+$=?]|%[0-9A-Fa-f]{2})*)?$/;
const UNRESERVED = /^[A-Za-z0-9\-_.!~*'()]$/;
/** what Twilio's `From` (and so a subject) may hold at most */
export const MAX_SIP_URI_CHARS = 256;

export interface SipAddress {
  /** the user part, escapes normalised, with any parameters of its own (`;phone-context=…`); absent for a bare host */
  user?: string;
  /** the host, lower case, without its port or a final dot */
  host: string;
}

/** `%41` → `A`, `%2b` → `%2B` */
function normaliseEscapes(text: string): string {
  return text.replace(/%([0-9A-Fa-f]{2})/g, (_, hex: string) => {
    const c = String.fromCharCode(parseInt(hex, 16));
    return UNRESERVED.test(c) ? c : `%${hex.toUpperCase()}`;
  });
}

/** the address of record a `sip:` or `sips:` URI names, or null when it is not one well formed */
export function parseSipUri(text: string): SipAddress | null {
  if (text.length > MAX_SIP_URI_CHARS) return null;
  const scheme = /^sips?:/i.exec(text);
  if (!scheme) return null;
  let rest = text.slice(scheme[0].length);
  // no part of a SIP URI holds an unescaped '@' but the one that ends its user info
  const at = rest.indexOf('@');
  if (at >= 0 && rest.indexOf('@', at + 1) >= 0) return null;
  let user: string | undefined;
  if (at >= 0) {
    const info = rest.slice(0, at);
    const colon = info.indexOf(':');
    const name = colon < 0 ? info : info.slice(0, colon);
    if (!USER.test(name) || (colon >= 0 && !PASSWORD.test(info.slice(colon + 1)))) return null;
    user = normaliseEscapes(name);
    rest = rest.slice(at + 1);
  }
  const m = HOSTPORT.exec(rest);
  if (!m) return null;
  const [, host, port, tail] = m;
  if (!(HOSTNAME.test(host) || IPV6_REFERENCE.test(host))) return null;
  if ((port !== undefined && Number(port) > 65535) || !PARAMS_AND_HEADERS.test(tail)) return null;
  return { ...(user !== undefined ? { user } : {}), host: host.toLowerCase().replace(/\.$/, '') };
}

/** the canonical text of an address: `sip:user@host`, or `sip:host` */
export function sipAddressText(a: SipAddress): string {
  return a.user === undefined ? `sip:${a.host}` : `sip:${a.user}@${a.host}`;
}

/** an IP address rather than a name: it may be where the caller's own device is */
export function isIpHost(host: string): boolean {
  return IPV4.test(host) || host.startsWith('[');
}
