/** The agent API's OpenAPI document and UI at /docs (README), through inject(). */
import { buildInjectedApp, type InjectedApp } from '../../support/app';

let t: InjectedApp;
beforeAll(async () => {
  t = await buildInjectedApp();
});
afterAll(async () => t?.close());

describe('OpenAPI', () => {
  it('documents the agent API at /docs', async () => {
    // /docs redirects to the UI's page (what fetch's redirect: 'follow' did over HTTP)
    let ui = await t.inject({ method: 'GET', url: '/docs' });
    for (let hops = 0; ui.statusCode >= 300 && ui.statusCode < 400 && hops < 5; hops++) {
      ui = await t.inject({ method: 'GET', url: new URL(ui.headers.location as string, 'http://x/docs').pathname });
    }
    expect(ui.statusCode).toBe(200);
    expect(ui.body).toMatch(/swagger/i);
    const spec = (await t.inject({ method: 'GET', url: '/docs/json' })).json() as { openapi: string; paths: Record<string, Record<string, unknown>> };
    expect(spec.openapi).toMatch(/^3\./);
    expect(Object.keys(spec.paths)).toEqual(
      expect.arrayContaining([
        '/v1/calls',
        '/v1/calls/{callSid}',
        '/v1/calls/{callSid}/accept',
        '/v1/calls/{callSid}/captures',
        '/v1/calls/{callSid}/captures/{captureId}',
      ]),
    );
    expect(Object.keys(spec.paths['/v1/calls/{callSid}/captures'].post as object)).toEqual(expect.arrayContaining(['requestBody', 'responses']));
    // only the agent API: no Twilio webhook in the document
    expect(Object.keys(spec.paths).some((p) => p.startsWith('/twilio'))).toBe(false);
  });
});
