// `nsmctl get connections` against the scale part's nsmgr while it holds every connection (issue 13:
// ≤ 300 ms at 1000). Each run is the command as a user types it: a new node process (start-up,
// imports, the MonitorConnections snapshot, the table), timed from spawn to exit. Its own CPU time
// (user + sys, from /usr/bin/time when present) says what the command costs: on a loaded machine
// the wall time is mostly the wait for a core.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { NsmctlGetData } from '../context.js';
import { summarize } from '../stats.js';

// The binary package.json's "bin" installs (the bundle with its code cache, nsmctl/launch.cts), as a user runs it.
const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'nsmctl', 'launch.cjs');
const TIME = '/usr/bin/time';

export async function timeNsmctlGet(nsmgrURL: string, held: number, runs = 7): Promise<NsmctlGetData> {
  const loadBefore = loadavg()[0];
  const wall: number[] = [];
  const cpu: number[] = [];
  let listed = 0;
  // The default --timeout (3 s) would turn a slow answer on a loaded machine into a failure.
  const cmd = [process.execPath, CLI, '--nsmgr', nsmgrURL, '--timeout', '60000', 'get', 'connections'];
  const timed = existsSync(TIME);
  for (let r = 0; r < runs; r++) {
    const t = performance.now();
    const { stdout, stderr } = timed
      ? await promisify(execFile)(TIME, ['-f', 'cpu %U %S', ...cmd], { maxBuffer: 1 << 26 })
      : await promisify(execFile)(cmd[0], cmd.slice(1), { maxBuffer: 1 << 26 });
    wall.push(performance.now() - t);
    const m = /cpu ([\d.]+) ([\d.]+)/.exec(stderr);
    if (m) cpu.push((Number(m[1]) + Number(m[2])) * 1000);
    listed = stdout.trimEnd().split('\n').length - 1;
  }
  return {
    held,
    listed,
    wall: summarize(wall),
    cpu: cpu.length ? summarize(cpu) : undefined,
    loadBefore,
    loadAfter: loadavg()[0],
  };
}
