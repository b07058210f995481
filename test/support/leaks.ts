import { createHook } from 'node:async_hooks';
import { after, afterEach, beforeEach, type TestContext } from 'node:test';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { openCaches, queriesInFlight } from '../../src/open-resources.js';
import { openListenerCount, openWatcherCount } from '../../src/dialects/wake-sources.js';
import { openRelayCount } from '../../src/wake/relay.js';

/**
 * The suite's leak check, after graphile-worker's afterEach over _allWorkerPools: a test fails
 * when, after its own clean-up (its `t.after` hooks, where the harness stops its caches), any of
 * these is left from what the test started:
 * - a DistributedCache started and not stopped;
 * - a query distcache sent that has not finished;
 * - a wake-up listener connection or WAL watch;
 * - a timer, immediate, socket or file watch created by distcache's own code (dist/src), found
 *   through async_hooks, unref'd ones included: `process.getActiveResourcesInfo()` does not list
 *   unref'd timers, and every distcache timer is unref'd.
 *
 * Call `checkLeaksAfterEach()` once at the top of every test file that creates caches.
 */
export function checkLeaksAfterEach(): void {
  startTracking();
  let baseline: Snapshot | undefined;
  beforeEach(() => {
    baseline = snapshot();
  });
  afterEach((context) => {
    // Registered now, it runs after the test's own t.after hooks (Node runs afterEach before them).
    const t = context as TestContext;
    t.after(() => assertNoLeaks(`test '${t.name}'`, baseline));
  });
  after(() => assertNoLeaks('the file (after every test)', undefined));
}

interface Snapshot {
  caches: Set<object>;
  resources: Set<number>;
  listeners: number;
  watchers: number;
}

interface LiveResource {
  type: string;
  where: string;
  resource: { _destroyed?: boolean; hasRef?: () => boolean };
}

/** Kinds of async resource a leak is made of; promises and one-off requests end on their own. */
const WATCHED = new Set(['Timeout', 'Immediate', 'TCPWRAP', 'TCPCONNECTWRAP', 'PIPEWRAP', 'FSEVENTWRAP', 'STATWATCHER', 'SIGNALWRAP']);
const OWN_CODE = /[\\/]dist[\\/]src[\\/]/;
const live = new Map<number, LiveResource>();
let tracking = false;

function startTracking(): void {
  if (tracking) return;
  tracking = true;
  createHook({
    init(asyncId, type, _trigger, resource) {
      if (!WATCHED.has(type)) return;
      const limit = Error.stackTraceLimit;
      Error.stackTraceLimit = 40;
      const stack = new Error().stack ?? '';
      Error.stackTraceLimit = limit;
      const where = ownCreator(type, stack);
      if (where) live.set(asyncId, { type, where: where.trim(), resource: resource as LiveResource['resource'] });
    },
    destroy(asyncId) {
      live.delete(asyncId);
    },
  }).enable();
}

/** Timer internals and this hook itself: frames between a timer and the code that set it. */
const PLUMBING = /node:internal\/async_hooks|node:internal\/timers|node:timers|<anonymous>|[\\/]support[\\/]leaks\.js|^Error$/;

/**
 * The distcache frame that created a resource, if distcache did. A timer counts only when
 * distcache's code set it itself: Node's HTTP server arms a keep-alive timer inside res.end(),
 * which the express middleware calls, and that timer is the server's, not distcache's. A socket or
 * watch counts when distcache's code opened it through a driver (pg's listener connection).
 */
function ownCreator(type: string, stack: string): string | undefined {
  const frames = stack.split('\n').map((line) => line.trim());
  if (type === 'Timeout' || type === 'Immediate') {
    const caller = frames.find((line) => !PLUMBING.test(line));
    return caller && OWN_CODE.test(caller) ? caller : undefined;
  }
  return frames.find((line) => OWN_CODE.test(line) && !line.includes('node_modules'));
}

function snapshot(): Snapshot {
  return { caches: new Set(openCaches()), resources: new Set(live.keys()), listeners: openListenerCount(), watchers: openWatcherCount() };
}

/** What is left over now, beyond `baseline` (what shared fixtures held before the test). */
export async function leftovers(baseline: Snapshot | undefined): Promise<string[]> {
  // destroy hooks arrive a turn or two after a timer is cleared or a socket closed.
  for (let i = 0; i < 3; i += 1) await nextTurn();
  const found: string[] = [];
  const caches = openCaches().filter((c) => !baseline?.caches.has(c));
  if (caches.length > 0) found.push(`${caches.length} DistributedCache(s) started and never stopped (or whose stop() has not resolved)`);
  const queries = queriesInFlight();
  if (queries > 0) found.push(`${queries} distcache quer${queries === 1 ? 'y' : 'ies'} still in flight`);
  if (openListenerCount() > (baseline?.listeners ?? 0)) found.push(`${openListenerCount()} wake-up listener connection(s) still open`);
  if (openWatcherCount() > (baseline?.watchers ?? 0)) found.push(`${openWatcherCount()} WAL watch(es) still open`);
  // A cluster worker's relay wake-up holds the IPC channel's 'message' listener, which keeps it alive.
  if (openRelayCount() > 0) found.push(`${openRelayCount()} relay wake-up(s) still started`);
  for (const [id, entry] of live) {
    if (baseline?.resources.has(id) || entry.resource._destroyed === true) continue;
    found.push(`a ${entry.type} created ${entry.where}`);
  }
  return found;
}

async function assertNoLeaks(what: string, baseline: Snapshot | undefined): Promise<void> {
  const found = await leftovers(baseline);
  if (found.length > 0) throw new Error(`${what} left distcache work behind after stop():\n  - ${found.join('\n  - ')}`);
}
