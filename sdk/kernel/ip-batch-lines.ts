// What the batch pool (ip-batch-pool.ts) reads from the lines it is given, and the command line of
// its processes: pure functions, split from the pool so it stays about processes.

/** Names a batch line resolves through iproute2's cache (`dev X`, `name X`). */
export function namesIn(command: string): string[] {
  return [...command.matchAll(/\b(?:dev|name) (\S+)/g)].map((m) => m[1]);
}

/** The links a batch line creates: their names and namespace paths (null: where the batch runs). */
export function createdNames(command: string): { name: string; netns: string | null }[] {
  if (!/^link add\b/.test(command)) return [];
  return [...command.matchAll(/\bname (\S+)(?: netns (\S+))?/g)].map((m) => ({
    name: m[1],
    netns: m[2] ?? null,
  }));
}

/**
 * Whether a command may print the loopback's line, which would read as the pool's sentinel: a `show`/`list`
 * that is not limited to another device. Such batches run one-shot (queries belong in `json` anyway).
 */
export function printsLoopback(command: string): boolean {
  if (!/^\S+\s+(show|list|ls|lst)\b/.test(command.trim())) return false;
  return !/\bdev\s+(?!lo(\s|$))\S+/.test(command);
}

/** The argv of a long-lived batch process in netns (null: our own). */
export function batchProcessArgv(
  netns: string | null,
  bins: { ipBinary: string; nsenterBinary: string },
): string[] {
  const ip = [bins.ipBinary, '-o', '-batch', '-'];
  return netns === null ? ip : [bins.nsenterBinary, `--net=${netns}`, ...ip];
}
