// A bounded CPU load, like `stress --cpu N`: keeps N cores busy until its parent goes away, it is
// told to stop, or MAX_LOAD_MS passes, whichever comes first, so a crashed test run never leaves it
// spinning. hooks.ts starts it for a whole mocha run when NSM_TEST_CPU_LOAD=N is set
// (`NSM_TEST_CPU_LOAD=2 npm run test:faults`); by hand: `node dist/test/cpu-load.js 2 [seconds]`.
//
// Each busy loop runs in a worker thread; the main thread stays idle so it can notice the end.
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { isMainThread, Worker } from 'node:worker_threads';

/** Upper bound of one load run: longer than any test tier, short enough to never be forgotten. */
export const MAX_LOAD_MS = 30 * 60_000;
/** How often the load process checks that its parent is still there. */
const PARENT_CHECK_MS = 500;
const SCRIPT = fileURLToPath(import.meta.url);

/** Parses NSM_TEST_CPU_LOAD: a whole number of cores (0 or unset: no load). */
export function parseCpuLoad(value: string | undefined): number {
  if (value === undefined || value.trim() === '') return 0;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 256) {
    throw new Error(`NSM_TEST_CPU_LOAD: want a whole number of cores from 0 to 256 (got "${value}")`);
  }
  return n;
}

export interface CpuLoad {
  readonly pid: number;
  readonly cores: number;
  /** Stops the load and waits until its process is gone. */
  stop(): Promise<void>;
}

/** Starts the load process (a child of this one); resolves once its workers spin. */
export async function startCpuLoad(cores: number, maxMs = MAX_LOAD_MS): Promise<CpuLoad> {
  const child: ChildProcess = spawn(process.execPath, [SCRIPT, String(cores), String(maxMs / 1000)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    child.stdout?.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`the CPU load exited with ${code} before it started`)));
  });
  child.stdout?.resume();
  return {
    pid: child.pid ?? -1,
    cores,
    async stop() {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

function spin(): void {
  // Busy work the optimizer cannot drop; the thread never yields (it is terminated from outside).
  let x = 0;
  for (;;) x = (x + Math.sqrt(x + 1)) % 1e9;
}

function main(cores: number, maxMs: number): void {
  const parent = process.ppid;
  const workers = Array.from({ length: cores }, () => new Worker(`(${spin.toString()})()`, { eval: true }));
  const end = (why: string) => {
    process.stderr.write(`cpu-load: stopping (${why})\n`);
    for (const w of workers) void w.terminate();
    process.exit(0);
  };
  setTimeout(() => end(`${maxMs / 1000} s passed`), maxMs);
  setInterval(() => {
    if (process.ppid !== parent) end('the parent is gone');
  }, PARENT_CHECK_MS);
  process.on('SIGTERM', () => end('asked to stop'));
  process.on('SIGINT', () => end('interrupted'));
  process.stdout.write(`cpu-load: ${cores} busy thread(s), at most ${maxMs / 1000} s\n`);
}

if (isMainThread && process.argv[1] === SCRIPT) {
  const cores = parseCpuLoad(process.argv[2]);
  const seconds = Number(process.argv[3] ?? MAX_LOAD_MS / 1000);
  if (!Number.isFinite(seconds) || seconds <= 0) {
    process.stderr.write(`cpu-load: want a positive number of seconds (got "${process.argv[3]}")\n`);
    process.exit(2);
  }
  main(cores, seconds * 1000);
}
