/**
 * `GET /agent`: the panel page, with a Content-Security-Policy that allows exactly its own
 * inline script and style (by hash), same-origin fetch and WebSocket, and nothing else; no
 * frame, and no HTML written from a string (Trusted Types). What the service tells the panel of
 * its configuration is a `<meta>` of the page, which its script reads: the script stays one text
 * whatever the configuration, so its hash in the policy does too.
 */
import { createHash } from 'node:crypto';
import type { FastifyPluginAsync } from 'fastify';
import { PANEL_BODY, PANEL_STYLE } from './markup';
import { IDLE_META, PANEL_SCRIPT } from './page';

const sha256 = (s: string) => `'sha256-${createHash('sha256').update(s, 'utf8').digest('base64')}'`;

/** the page, with the panel's idle time (AGENT_IDLE_TIMEOUT_SECONDS: a whole number, so nothing to escape) */
const html = (idleTimeoutSeconds: number) => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="${IDLE_META}" content="${Math.trunc(idleTimeoutSeconds)}">
<title>tonewall agent</title><style>${PANEL_STYLE}</style></head>
<body>${PANEL_BODY}<script>${PANEL_SCRIPT}</script></body></html>`;

const CSP = [
  "default-src 'none'",
  `script-src ${sha256(PANEL_SCRIPT)}`,
  `style-src ${sha256(PANEL_STYLE)}`,
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
  // the panel writes text only (textContent, never innerHTML): a browser with Trusted Types refuses any HTML sink, so no later change can add one unnoticed
  "require-trusted-types-for 'script'",
].join('; ');

export interface PanelOptions {
  /** PCI DSS 8.2.8: seconds with no keyboard or pointer input after which the panel signs itself out */
  idleTimeoutSeconds: number;
}

export function panelRoutes(opts: PanelOptions): FastifyPluginAsync {
  const page = html(opts.idleTimeoutSeconds);
  return async (app) => {
    app.get('/agent', async (_req, reply) =>
      reply
        .header('content-type', 'text/html; charset=utf-8')
        .header('content-security-policy', CSP)
        .header('x-content-type-options', 'nosniff')
        .header('referrer-policy', 'no-referrer')
        .header('cache-control', 'no-store')
        .send(page),
    );
  };
}
