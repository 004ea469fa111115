/**
 * Public origins served through a TLS-terminating proxy. A real deployment puts tonewall behind
 * one (a load balancer with the certificate: `PUBLIC_URL=https://ivr.example.com`); Twilio
 * signs and requests the public https/wss URL and the proxy hands the request to the service's
 * plain http port. The emulator plays that proxy: it signs exactly the URL the TwiML names and
 * connects to the local origin the map gives for it, so tests can run the service as an
 * operator does (https, required under PCI Mode) without certificates.
 */
export type Reach = (url: string) => string;

/** a Reach whose proxy can be pointed elsewhere, as a load balancer takes an instance out of rotation */
export interface Origins {
  reach: Reach;
  /** from now on, `publicOrigin` (https) is served by `localOrigin` (http), wss URLs of its host by ws:// of that one */
  route(publicOrigin: string, localOrigin: string): void;
}

/** `{ 'https://ivr.example.test': 'http://127.0.0.1:4312' }`: wss URLs of the public origin go to ws:// of the local one */
export function originMap(origins: Record<string, string> = {}): Origins {
  const routes = new Map<string, string>();
  const route = (publicOrigin: string, localOrigin: string) => {
    const pub = new URL(publicOrigin);
    const local = new URL(localOrigin);
    if (
      pub.protocol !== 'https:' ||
      local.protocol !== 'http:' ||
      pub.origin !== publicOrigin.replace(/\/$/, '') ||
      local.origin !== localOrigin.replace(/\/$/, '')
    ) {
      throw new Error(`origins: map an https origin to an http origin (no path), not ${publicOrigin} → ${localOrigin}`);
    }
    routes.set(pub.origin, local.origin);
    routes.set(`wss://${pub.host}`, `ws://${local.host}`);
  };
  for (const [publicOrigin, localOrigin] of Object.entries(origins)) route(publicOrigin, localOrigin);
  const reach: Reach = (url) => {
    if (routes.size === 0) return url;
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      return url;
    }
    const local = routes.get(`${parsed.protocol}//${parsed.host}`);
    return local ? local + parsed.pathname + parsed.search : url;
  };
  return { reach, route };
}
