/**
 * The benchmark process's own peak resident set over one contender's round: Linux keeps the
 * peak (VmHWM) and resets it on request (`5` into /proc/self/clear_refs, Linux 4.0+). For a
 * contender that runs inside this process the figure includes the harness itself (its
 * producer, pools and the documents of the scenario), the same for every such contender.
 *
 *   const before = resetPeakRss();
 *   await contender.run(input);
 *   const rise = before === undefined ? undefined : peakRssBytes()! - before;
 */
import { readFileSync, writeFileSync } from 'node:fs';

const status = (field: 'VmHWM' | 'VmRSS'): number | undefined => {
  try {
    const kb = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
    return kb === undefined ? undefined : Number(kb) * 1024;
  } catch {
    return undefined;
  }
};

/** Resets the peak to the resident set now, which it returns; undefined where it cannot. */
export const resetPeakRss = (): number | undefined => {
  try {
    writeFileSync('/proc/self/clear_refs', '5');
    return status('VmRSS');
  } catch {
    return undefined;
  }
};

export const peakRssBytes = (): number | undefined => status('VmHWM');
