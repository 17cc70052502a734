/**
 * Liveness and readiness. `/healthz` answers while the process can serve
 * requests and reads nothing. `/readyz` answers 200 when the roster can be
 * read and, in GitHub mode, the last sync with the roster of record succeeded
 * within three intervals; otherwise 503 with a short reason.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { AppContext } from './context.js';

function json(reply: FastifyReply, status: number, body: object): FastifyReply {
  return reply.code(status).type('application/json; charset=utf-8').send(JSON.stringify(body));
}

export function healthRoutes(app: FastifyInstance, { store, sync }: AppContext): void {
  app.get('/healthz', async (_request, reply) => reply.type('application/json; charset=utf-8').send('{"status":"ok"}'));

  app.get('/readyz', async (_request, reply) => {
    try {
      await store.read();
    } catch {
      return json(reply, 503, { status: 'unavailable', reason: 'the roster file cannot be read' });
    }
    const readiness = sync?.readiness() ?? { ready: true as const };
    if (!readiness.ready) return json(reply, 503, { status: 'unavailable', reason: readiness.reason });
    return json(reply, 200, { status: 'ready', mode: sync === null ? 'local' : 'github' });
  });
}
