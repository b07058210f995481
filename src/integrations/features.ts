import type { DistributedCache } from '../cache.js';
import type { Instrumentation } from '../instrumentation.js';

/**
 * Parts of the cache that arrive with the cluster feature or with the seams that docs/integrations.md
 * proposes. The integrations read them when present, so they work on any core version.
 */

/** A server's role in its cluster. */
export const ROLES = ['single', 'scheduling-publisher', 'subscriber', 'unknown'] as const;
export type ClusterRole = (typeof ROLES)[number];

export interface HealthLike {
  pendingInstructions?: number | null;
  lagSeconds?: number | null;
}

/** `cache.role`, when the core has roles. */
export function roleOf(cache: DistributedCache): string | undefined {
  const role = (cache as unknown as { role?: unknown }).role;
  return typeof role === 'string' ? role : undefined;
}

/** `cache.health()`, when the core has it. */
export function healthOf(cache: DistributedCache): (() => Promise<HealthLike>) | undefined {
  const health = (cache as unknown as { health?: unknown }).health;
  return typeof health === 'function' ? async () => (await health.call(cache)) as HealthLike : undefined;
}

/** `cache.instrument(hooks)`, when the core has the instrumentation seam; returns the detach function. */
export function instrumentOf(cache: DistributedCache): ((hooks: Instrumentation) => () => void) | undefined {
  const instrument = (cache as unknown as { instrument?: unknown }).instrument;
  return typeof instrument === 'function' ? (hooks) => instrument.call(cache, hooks) as () => void : undefined;
}
