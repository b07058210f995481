import { readFileSync } from 'node:fs';

let cached: string | undefined;

/**
 * distcache's own version, recorded with each server so an operator sees mixed versions during a
 * rolling deploy. Read on first use, not at import (importing has no side effects), and 'unknown'
 * when bundling moved package.json out of reach.
 */
export function packageVersion(): string {
  if (cached !== undefined) return cached;
  cached = 'unknown';
  // dist/src/cluster/version.js and src/cluster/version.ts are both three levels below the root.
  for (const relative of ['../../../package.json', '../../package.json']) {
    try {
      const parsed = JSON.parse(readFileSync(new URL(relative, import.meta.url), 'utf8')) as { name?: unknown; version?: unknown };
      if (parsed.name === 'distcache' && typeof parsed.version === 'string') {
        cached = parsed.version;
        break;
      }
    } catch {
      // try the next candidate
    }
  }
  return cached;
}
