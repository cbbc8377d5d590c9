#!/usr/bin/env node
/**
 * The `docpipe` command's entry: it holds SIGTERM and SIGINT before anything else is loaded,
 * then loads the command line (program.ts). Exit codes: 0 done (or stopped cleanly), 1
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

holdEarlySignals();
await import('./program.js');
