/**
 * The JSON body parser of every route: Fastify's own (secure-json-parse, so `__proto__` and
 * `constructor.prototype` keys are refused; the app's body limit), except that an empty body is
 * no body. A client that sends `content-type: application/json` on a bodiless request (an accept,
 * a cancel, an erasure) got Fastify's 400 before the route ran, so before its 401 and 404
 * (CONTRACT §5: those come first); a route that needs a body still says so, after them.
 */
import type { FastifyInstance } from 'fastify';

export function registerJsonBody(app: FastifyInstance): void {
  const parse = app.getDefaultJsonParser('error', 'error');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    // parseAs 'string': the body is text; Fastify's parser takes it as its own does
    const text = body.toString();
    if (text.length === 0) {
      done(null, undefined);
      return;
    }
    parse(req, text, done);
  });
}
