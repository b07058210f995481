import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHash, timingSafeEqual } from 'node:crypto';
import { once } from 'node:events';
import { integerOption, stringOption } from '../args.js';
import type { Command } from '../command.js';
import { UsageError } from '../failure.js';
import { dashboard } from '../../dashboard/index.js';
import { DASHBOARD_DEFAULTS } from '../../dashboard/options.js';

/** Where --allow-actions reads the operator's token: never a flag, so it is not in `ps` or shell history. */
export const DASHBOARD_TOKEN_ENV = 'DISTCACHE_DASHBOARD_TOKEN';

interface DashboardArgs {
  port: number;
  host: string;
  token: string | null;
}

export const dashboardCommand: Command<DashboardArgs> = {
  name: 'dashboard',
  summary: 'serve the dashboard page (servers, instructions, failures, regions) on localhost until Ctrl-C',
  usage: 'dashboard [--port N] [--host ADDRESS] [--allow-actions]',
  description:
    'Read-only by default, through read-only transactions. --allow-actions enables resync and prune for requests that carry ' +
    `the token in ${DASHBOARD_TOKEN_ENV} as a bearer token (the page has a field for it). Binds to 127.0.0.1 unless --host ` +
    'says otherwise; put it behind your own authentication before exposing it. See docs/dashboard.md.',
  examples: ['distcache dashboard --db postgres://ops@db/app', `${DASHBOARD_TOKEN_ENV}=… distcache dashboard --allow-actions --port 9000`],
  options: {
    port: { type: 'string', value: 'N', description: `port to listen on (default ${DASHBOARD_DEFAULTS.port}; 0 picks a free one)` },
    host: { type: 'string', value: 'ADDRESS', description: `address to bind (default ${DASHBOARD_DEFAULTS.host})` },
    'allow-actions': { type: 'boolean', description: `allow resync and prune to requests carrying the token in ${DASHBOARD_TOKEN_ENV}` },
  },
  positionals: { min: 0, max: 0, names: '' },
  parse(values) {
    const port = integerOption(values, 'port', DASHBOARD_DEFAULTS.port, 0, 'dashboard');
    if (port > 65535) throw new UsageError(`--port ${port}: a port is at most 65535`, 'dashboard');
    let token: string | null = null;
    if (values['allow-actions'] === true) {
      // The CLI runs as its own process: its environment is the operator's.
      token = process.env[DASHBOARD_TOKEN_ENV] ?? '';
      if (token.length < 16)
        throw new UsageError(`--allow-actions needs a token of at least 16 characters in ${DASHBOARD_TOKEN_ENV}`, 'dashboard');
    }
    return { port, host: stringOption(values, 'host') ?? DASHBOARD_DEFAULTS.host, token };
  },
  access: (args) => (args.token === null ? 'read' : 'write'),
  async run({ admin, out, settings, interrupts }, { port, host, token }) {
    const expected = token === null ? null : digest(token);
    const handler = dashboard({
      admin,
      authorize: (req) => {
        if (expected === null) return false;
        const given = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
        if (!given || !timingSafeEqual(digest(given), expected)) return false;
        return `token(${req.socket.remoteAddress ?? 'unknown'})`;
      },
      onAction: (record) => out.line(`${record.at} ${record.action}${record.server ? ` ${record.server}` : ''} by ${record.originated}`),
    });
    const server = createServer(handler);
    const stop = interrupts();
    server.listen(port, host);
    await once(server, 'listening');
    const address = server.address() as AddressInfo;
    const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    out.line(
      `distcache dashboard: http://${shown}:${address.port}/ (cluster ${admin.cluster}, ${settings.connection.display}, ` +
        `${token === null ? 'read-only' : 'actions allowed with the token'}); Ctrl-C stops it`,
    );
    if (!stop.aborted) await once(stop, 'abort');
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  },
};

/** Fixed-length digests, so comparing tokens of different lengths is constant-time too. */
function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}
