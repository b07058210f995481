import type { AddressInfo } from 'node:net';
import { createServer, type Server } from 'node:http';
import express from 'express';
import Fastify from 'fastify';
import type { DashboardHandler } from '../../src/dashboard/index.js';

export type HostKind = 'express' | 'fastify' | 'node:http';

export interface Hosted {
  /** The read-only dashboard's URL, without a trailing slash. */
  readOnly: string;
  /** The URL of the one that lets actions through. */
  allowing: string;
  close(): Promise<void>;
}

/** Mounts two dashboards the way an application would, on port 0: Express and Fastify under paths, node:http at the root. */
export async function host(kind: HostKind, readOnly: DashboardHandler, allowing: DashboardHandler): Promise<Hosted> {
  if (kind === 'fastify') {
    const app = Fastify();
    await app.register(readOnly.fastify, { prefix: '/ops' });
    await app.register(allowing.fastify, { prefix: '/rw' });
    const address = await app.listen({ port: 0, host: '127.0.0.1' });
    return { readOnly: `${address}/ops`, allowing: `${address}/rw`, close: () => app.close() };
  }
  if (kind === 'express') {
    const app = express();
    app.use('/ops', readOnly);
    app.use('/rw', allowing);
    const server = await listen(createServer(app));
    return { readOnly: `${url(server)}/ops`, allowing: `${url(server)}/rw`, close: () => close(server) };
  }
  const a = await listen(createServer(readOnly));
  const b = await listen(createServer(allowing));
  return { readOnly: url(a), allowing: url(b), close: async () => void (await Promise.all([close(a), close(b)])) };
}

async function listen(server: Server): Promise<Server> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

function url(server: Server): string {
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function close(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
}
