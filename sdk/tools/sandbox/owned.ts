// What this process made on the machine: network namespaces and the directories holding its unix
// sockets. The sandbox and the tests' throw-away namespace helpers record each one here when they
// make it; the test harness's leak check (test/leak-check.ts) looks after every test file whether
// any of it is still there. Names, not counts: several test runs share a machine, and a global
// count would see theirs too. Recording is all this module does; nothing here removes anything.

const netns = new Set<string>();
const dirs = new Set<string>();
const runScoped = new Set<number>();

/** A named network namespace this process created (`ip netns add NAME`). */
export function recordNetns(name: string): void {
  netns.add(name);
}

/** A directory this process created for its unix sockets and logs; it must be gone afterwards. */
export function recordDir(path: string): void {
  dirs.add(path);
}

/**
 * A process that serves the whole test run, not one file (the Kubernetes tier's shared cluster):
 * the per-file leak check leaves it and its children alone; whoever started it stops it.
 */
export function recordRunScopedProcess(pid: number): void {
  runScoped.add(pid);
}

export interface Owned {
  netns: readonly string[];
  dirs: readonly string[];
  runScopedPids: readonly number[];
}

/** Everything recorded so far (also what was since removed: the leak check asks the kernel). */
export function owned(): Owned {
  return { netns: [...netns], dirs: [...dirs], runScopedPids: [...runScoped] };
}
