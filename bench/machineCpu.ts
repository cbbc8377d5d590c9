/**
 * The whole machine's CPU time, busy and in all, from Linux's `/proc/stat`: the benchmark's
 * contenders share two cores with the broker and the database, so what a row costs the
 * machine, not one process, is what limits the rate.
 *
 * Read by hand rather than through `os.cpus()`, which leaves out the time the kernel spends
 * in softirq — where it handles the localhost traffic between docpipe, Kafka and MariaDB.
 */
import { readFileSync } from 'node:fs';

export interface CpuTicks {
  /** Ticks (USER_HZ) spent on anything but idle and iowait, all cores together. */
  busy: number;
  total: number;
}

/** Ticks a second in `/proc/stat` (USER_HZ, 100 on every Linux that Node runs on). */
export const TICKS_PER_SECOND = 100;

const NOT_LINUX = process.platform !== 'linux';

/** Undefined where there is no `/proc/stat`. */
export const cpuTicks = (): CpuTicks | undefined => {
  if (NOT_LINUX) return undefined;
  const line = readFileSync('/proc/stat', 'latin1').slice(0, 256).split('\n', 1)[0]!;
  // cpu user nice system idle iowait irq softirq steal (guest time is already in user).
  const [user, nice, system, idle, iowait, irq, softirq, steal] = line.trim().split(/\s+/).slice(1, 9).map(Number);
  const busy = user! + nice! + system! + irq! + softirq! + (steal ?? 0);
  return { busy, total: busy + idle! + iowait! };
};
