/**
 * The JSON body parser of every route: Fastify's own (secure-json-parse, so `__proto__` and
 * `constructor.prototype` keys are refused; the app's body limit), except that an empty body is
 * no body. A client that sends `content-type: application/json` on a bodiless request (an accept,
 * a cancel, an erasure) got Fastify's 400 before the route ran, so before its 401 and 404
 * (CONTRACT §5: those come first); a route that needs a body still says so, after them.
 *
 * A body that does not parse (not JSON, or a poisoned `__proto__`) on a route of the agent API or
 * §7 is held as a MalformedJsonBody instead of answered 400 at once: those routes answer it 400
 * themselves (refuseMalformedBody) after their 401, 403 and 404, and do nothing else with it. Any
 * other route (Twilio's webhooks take forms; the session and audit routes are not the contract's)
 * is answered 400 by the parser, as before.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { MalformedJsonBody } from '../errors';

/** the routes whose checks come before a body's (agents/routes.ts, agents/privacy-routes.ts) */
const CHECKED_FIRST = /^\/v1\/(calls|subjects)\//;

const checkedFirst = (req: FastifyRequest) => CHECKED_FIRST.test(req.url);

export function registerJsonBody(app: FastifyInstance): void {
  const parse = app.getDefaultJsonParser('error', 'error');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    // parseAs 'string': the body is text; Fastify's parser takes it as its own does
    const text = body.toString();
    if (text.length === 0) {
      done(null, undefined);
      return;
    }
    if (!checkedFirst(req)) {
      parse(req, text, done);
      return;
    }
    parse(req, text, (err, parsed) => {
      // the parser's own words (Fastify's fixed text), never the body
      if (err) done(null, new MalformedJsonBody(err.message));
      else done(null, parsed);
    });
  });
}
