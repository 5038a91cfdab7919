// Loaded into each daemon with NODE_OPTIONS=--import=…/cpu-profile-hook.js by `--profile` (Node 20
// refuses --cpu-prof in NODE_OPTIONS). Starts the V8 sampling profiler at start-up and writes
// NSM_BENCH_PROFILE_DIR/<NSM_NAME>-<pid>.cpuprofile when the process exits normally (the daemons
// exit through process.exit on SIGTERM). Read the files with profile-summary.js or Chrome DevTools.
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { basename, dirname, join } from 'node:path';

const dir = process.env.NSM_BENCH_PROFILE_DIR;
if (dir) {
  const session = new Session();
  session.connect();
  session.post('Profiler.enable');
  // Sampling costs CPU in every profiled process: NSM_BENCH_PROFILE_INTERVAL_US widens it for parts
  // with many processes (the vL3 replica death runs ~35), where 200 µs slowed the heal sevenfold.
  const interval = Number(process.env.NSM_BENCH_PROFILE_INTERVAL_US) || 200;
  session.post('Profiler.setSamplingInterval', { interval });
  session.post('Profiler.start');
  process.once('exit', () => {
    // The in-process session answers synchronously, so this works inside 'exit'.
    session.post('Profiler.stop', (err, res) => {
      if (err) return;
      const name = (process.env.NSM_NAME || basename(dirname(process.argv[1] ?? 'node'))).replace(
        /[^A-Za-z0-9_.-]/g,
        '_',
      );
      // V8 stamps samples with the monotonic clock (µs, the one process.hrtime reads): this anchor
      // maps them to epoch time, so a profile can be cut to a window seen in the logs.
      const anchor = { epochMs: Date.now(), monotonicUs: Number(process.hrtime.bigint() / 1000n) };
      writeFileSync(
        join(dir, `${name}-${process.pid}.cpuprofile`),
        JSON.stringify({ ...res.profile, anchor }),
      );
    });
  });
}
