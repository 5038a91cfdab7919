// Root mocha hooks, loaded before every test file (the tier configs in test/tiers/ "require" it).
import { loadConfig, loggingSchema } from '../sdk/tools/config/index.js';
import { setupLogging } from '../sdk/tools/log.js';
import { type CpuLoad, parseCpuLoad, startCpuLoad } from './cpu-load.js';
import { describeLeaks, removeEverythingOwned, verifyNothingLeft } from './leak-check.js';

// In-process daemons log only warnings unless the developer asks for more (NSM_LOG_LEVEL, NSM_TRACE);
// spawned daemons inherit the same variables.
process.env.NSM_LOG_LEVEL ??= 'warn';
const logging = loadConfig(loggingSchema);
setupLogging({ level: logging.logLevel, trace: logging.trace });

// An unhandled rejection anywhere fails the run instead of being silently logged.
process.on('unhandledRejection', (reason) => {
  throw reason instanceof Error ? reason : new Error(String(reason));
});

let load: CpuLoad | undefined;
/** Processes of the harness itself, which the leak check must not count. */
const harnessPids = new Set<number>();

// Interrupted (Ctrl-C, a CI timeout): mocha runs no more hooks, so remove here what this process
// made (sandbox namespaces, daemons, socket directories), then exit as the signal would have.
for (const [signal, code] of [
  ['SIGINT', 130],
  ['SIGTERM', 143],
] as const) {
  process.once(signal, () => {
    void removeEverythingOwned(harnessPids)
      .then((l) => {
        const text = describeLeaks(l);
        if (text) process.stderr.write(`\n${signal}: removed what this run had made:\n${text}\n`);
      })
      .finally(() => process.exit(code));
  });
}

/** NSM_TEST_CPU_LOAD=N keeps N cores busy for the whole run (test/cpu-load.ts). */
export async function mochaGlobalSetup(): Promise<void> {
  const cores = parseCpuLoad(process.env.NSM_TEST_CPU_LOAD);
  if (cores === 0) return;
  load = await startCpuLoad(cores);
  harnessPids.add(load.pid);
  process.stderr.write(`CPU load: ${cores} busy core(s) for this run (pid ${load.pid})\n`);
}

export async function mochaGlobalTeardown(): Promise<void> {
  await load?.stop();
}

interface SuiteLike {
  file?: string;
  suites: SuiteLike[];
  afterAll(title: string, fn: () => Promise<void>): void;
}

export const mochaHooks = {
  // After the last top-level describe of each file: nothing the file made may be left
  // (test/leak-check.ts). Hooked per file, not per test: a file's `after` tears down what its
  // tests share (a sandbox), and this runs after it.
  beforeAll(this: { test?: { parent?: SuiteLike } }) {
    const root = this.test?.parent;
    if (!root) return;
    const last = new Map<string, SuiteLike>();
    for (const s of root.suites) if (s.file) last.set(s.file, s);
    for (const [file, suite] of last) {
      const name = file.replace(/^.*\/dist\//, 'dist/');
      suite.afterAll(`leak check: nothing ${name} made is left`, () => verifyNothingLeft(name, harnessPids));
    }
  },
};
