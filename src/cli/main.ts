#!/usr/bin/env node
/**
 * The `distcache` command. Everything it does is in run.ts, over the operator API (src/admin);
 * this file only wires the process: arguments, streams, signals, and the exit code.
 */
import { run } from './run.js';

const controller = new AbortController();
let catching = false;
const stop = () => controller.abort();

// `distcache tail --follow | head` closes stdout early: stop, as if interrupted.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') stop();
});

process.exitCode = await run(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  cwd: process.cwd(),
  catchInterrupts() {
    if (!catching) {
      catching = true;
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    }
    return controller.signal;
  },
});
process.off('SIGINT', stop);
process.off('SIGTERM', stop);
