/**
 * `GET /agent`: the panel page, with a Content-Security-Policy that allows exactly its own
 * inline script and style (by hash), same-origin fetch and WebSocket, and nothing else; no
 * frame, and no HTML written from a string (Trusted Types).
 */
import { createHash } from 'node:crypto';
import type { FastifyPluginAsync } from 'fastify';
import { PANEL_BODY, PANEL_SCRIPT, PANEL_STYLE } from './page';

const sha256 = (s: string) => `'sha256-${createHash('sha256').update(s, 'utf8').digest('base64')}'`;

const HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
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

export function panelRoutes(): FastifyPluginAsync {
  return async (app) => {
    app.get('/agent', async (_req, reply) =>
      reply
        .header('content-type', 'text/html; charset=utf-8')
        .header('content-security-policy', CSP)
        .header('x-content-type-options', 'nosniff')
        .header('referrer-policy', 'no-referrer')
        .header('cache-control', 'no-store')
        .send(HTML),
    );
  };
}
