// Resident memory and CPU time of a process, from /proc/<pid>/status (VmRSS) and /proc/<pid>/stat
// (utime + stime of the process itself; cutime + cstime of the children it has waited for, which
// for the forwarder is every `ip` process it ran).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

let clockTicks: number | undefined;

function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

export interface ProcSample {
  pid: number;
  rssMiB: number;
  /** Peak RSS since the process started (VmHWM). */
  peakMiB: number;
  /** CPU seconds of the process itself (user + system). */
  cpuS: number;
  /** CPU seconds of its reaped children (user + system). */
  childCpuS: number;
}

export function sampleProc(pid: number): ProcSample | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const rssKiB = Number(/^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1] ?? Number.NaN);
    const hwmKiB = Number(/^VmHWM:\s+(\d+)\s+kB/m.exec(status)?.[1] ?? Number.NaN);
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces and parentheses: split after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[0] is field 3 (state); utime is field 14, stime 15, cutime 16, cstime 17.
    const f = (n: number) => Number(fields[n - 3]);
    const hz = ticksPerSecond();
    return {
      pid,
      rssMiB: rssKiB / 1024,
      peakMiB: hwmKiB / 1024,
      cpuS: (f(14) + f(15)) / hz,
      childCpuS: (f(16) + f(17)) / hz,
    };
  } catch {
    return undefined;
  }
}
