#!/usr/bin/env node
/**
 * The `docpipe` command's entry, which bin/docpipe starts with the heap limits of `docpipe
 * run` (memoryBound.ts): it holds SIGTERM and SIGINT before anything else is loaded, tells the
 * command it does (launcher.ts), logs which limits apply, then loads the command line
 * (program.ts). Exit codes: 0 done (or stopped cleanly), 1
 * failed (a fatal error, rows skipped, documents missing), 2 bad usage or configuration.
 *
 * @example
 * ```sh
 * docpipe run                                   # the long-lived pipeline (DOCPIPE_* settings)
 * docpipe migrate                               # create or upgrade the table
 * docpipe produce --csv docs.csv --topic documents
 * docpipe verify --topic documents
 * ```
 */
import { holdEarlySignals } from './earlySignals.js';
import { joinLauncher } from './launcher.js';

holdEarlySignals();
joinLauncher();
if (process.argv[2] === 'run') {
  // Loaded only now: the signals are held first.
  const [{ createLogger }, { heapLimitsInEffect, MEMORY_BOUND_ENV }] = await Promise.all([import('./logger.js'), import('./memoryBound.js')]);
  const limits = heapLimitsInEffect();
  const log = createLogger().child({ component: 'memory' });
  if (limits.source !== 'none') log.info(limits, 'heap limits');
  else if (process.env[MEMORY_BOUND_ENV] === 'off') log.info(limits, `heap limits: V8's own (${MEMORY_BOUND_ENV}=off)`);
  // Started as `node main.js` rather than as the docpipe command: nothing bounds the heap.
  else log.warn(limits, "heap limits: V8's own; start docpipe through its command (bin/docpipe) to bound them by the budget");
}
await import('./program.js');
