/** Liveness: answers while the process can serve requests; it does not read the roster. */
import type { FastifyInstance } from 'fastify';
import type { AppContext } from './context.js';

export function healthRoutes(app: FastifyInstance, _context: AppContext): void {
  app.get('/healthz', async (_request, reply) => reply.type('application/json; charset=utf-8').send('{"status":"ok"}'));
}
