import { existsSync } from 'node:fs';
import type { Browser } from 'playwright-core';

/** Debian's Chromium (`apt-get install chromium`); the tests never download a browser. */
export const CHROMIUM = process.env.DISTCACHE_CHROMIUM ?? '/usr/bin/chromium';

const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

/** A skip reason when there is no Chromium here; under CI=true its absence fails the run instead. */
export function browserAvailability(): string | false {
  if (existsSync(CHROMIUM)) return false;
  const line = `no Chromium at ${CHROMIUM}; the browser tests are skipped (apt-get install chromium)`;
  if (process.env.CI === 'true') throw new Error(`CI=true: ${line}`);
  console.log(`# ${line}`);
  return line;
}

/** One browser for a whole test file: launching takes most of a second. */
export async function launchBrowser(): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: FLAGS });
}
