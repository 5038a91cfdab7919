// Long-lived `ip -o -batch -` processes, one per network namespace, fed batches over stdin. A
// connection's kernel work is a few hundred microseconds inside the kernel; spawning `ip` for it
// costs milliseconds of exec, dynamic linking and (with `ip -n`) a copy of the mount table. A
// process that stays in the namespace pays that once for many batches: the node's namespace and a
// busy endpoint's namespace see a batch per connection.
//
// Protocol. iproute2 reads stdin line by line, runs each line, prints nothing on stdout for the
// commands we send (link add/set/del, addr/route/neigh replace), and flushes stdout after every
// line. After each batch we send a sentinel, `link show dev lo` (`-o`: exactly one line, starting
// "1: lo:"), so a sentinel line on stdout says "every line before it succeeded". Without `-force`,
// iproute2 stops at the first failing line: it prints the error and "Command failed -:N" (N counts
// every line since the process started) on stderr and exits, so the same contract as a one-shot
// batch holds: lines after a failure do not run. The next batch for that namespace starts a new
// process.
//
// Entering a namespace is `nsenter --net=PATH`, never `ip -n NAME`: `ip -n` unshares the mount
// namespace (to remount /sys), which copies the whole mount table, and a node with a thousand pods
// has a thousand netns mounts, so its cost grows with the number of pods.
//
// iproute2 caches name → ifindex for every `dev NAME` it resolves, for the life of the process. A
// link deleted and created again under the same name (a pod that reconnects: nsm-1 again) gets a new
// ifindex, and a process that cached the old one fails with "No such device". So each process
// remembers the names it resolved, and a batch that creates a name (`link add name X [netns P]`, run
// by any process) retires the process of that namespace if it has seen X: it finishes what it has
// queued and exits, and the next batch gets a fresh process with an empty cache.
//
// A process holds a reference to its namespace. So it is stopped after `idleMs` without work, and
// before each batch its namespace path must still name the namespace it entered (a pod deleted and
// re-created under the same name, or a PID reused, gets a fresh process).
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { statSync } from 'node:fs';
import { status } from '@grpc/grpc-js';
import { batchProcessArgv, createdNames, namesIn } from './ip-batch-lines.js';
import { type FifoStarter, type IpProcess, withoutExitLine } from './ip-fifo.js';
import { KernelCommandError } from './kernel-command-error.js';

/** The line after every batch; its one line of output says the batch before it succeeded. */
export const SENTINEL = 'link show dev lo';
const SENTINEL_OUTPUT = /^1: lo[:@]/;
const FAILURE_MARK = /^Command failed -:(\d+)$/;
/** Rejection of a batch that was queued on a process that exited before running it. */
const REQUEUE = Symbol('requeue');
/** A process that has resolved this many names starts afresh (its iproute2 cache only grows). */
const MAX_SEEN_NAMES = 10_000;

export interface BatchPoolOptions {
  readonly ipBinary: string;
  readonly nsenterBinary: string;
  readonly timeoutMs: number;
  /** A process without work for this long exits (releasing its namespace). */
  readonly idleMs: number;
  /** At most this many processes at once; beyond it the caller runs a one-shot `ip`. */
  readonly maxProcesses: number;
}

interface Job {
  readonly commands: readonly string[];
  readonly netns: string | null;
  readonly signal?: AbortSignal;
  readonly resolve: () => void;
  readonly reject: (e: unknown) => void;
  /** Line number (1-based, counted since the process started) of the job's first command. */
  firstLine: number;
  settled?: boolean;
  onAbort?: () => void;
  timer?: NodeJS.Timeout;
}

/** A long-lived `ip` that Node spawns itself (our own namespace, or when no shell can start one). */
function spawnedProcess(netns: string | null, opts: BatchPoolOptions): IpProcess {
  const [bin, ...argv] = batchProcessArgv(netns, opts);
  const child: ChildProcessWithoutNullStreams = spawn(bin, argv, { stdio: ['pipe', 'pipe', 'pipe'] });
  let why: string | undefined;
  const cbs: ((why: string) => void)[] = [];
  const exited = (w: string) => {
    if (why !== undefined) return;
    why = w;
    for (const cb of cbs.splice(0)) cb(w);
  };
  child.on('error', (e) => exited(`cannot start ${bin}: ${e.message}`));
  child.on('close', (code, sig) => exited(`ip exited (${sig ?? `code ${code}`})`));
  return {
    stdin: child.stdin,
    stdout: child.stdout,
    stderr: child.stderr,
    onExit: (cb) => (why === undefined ? cbs.push(cb) : cb(why)),
    kill: () => child.kill('SIGKILL'),
    setRef: (ref) => {
      for (const h of [child, child.stdin, child.stdout, child.stderr] as {
        ref?: () => void;
        unref?: () => void;
      }[]) {
        if (ref) h.ref?.();
        else h.unref?.();
      }
    },
  };
}

/** One long-lived `ip -batch` in one namespace; runs one job at a time, in order. */
class BatchProcess {
  private readonly child: IpProcess;
  private readonly queue: Job[] = [];
  private current: Job | undefined;
  private linesWritten = 0;
  private stdout = '';
  private stderr = '';
  private idleTimer: NodeJS.Timeout | undefined;
  dead = false;
  /** Being stopped: takes no new batches (they go to a new process). */
  retiring = false;

  constructor(
    readonly netns: string | null,
    /** "DEV/INO" of the namespace when the process started; null for our own. */
    readonly identity: string | null,
    private readonly opts: BatchPoolOptions,
    private readonly onExit: (p: BatchProcess) => void,
    /** Started by a shell (ip-fifo.ts); by default Node spawns it. */
    started?: IpProcess,
  ) {
    this.child = started ?? spawnedProcess(netns, opts);
    this.child.stdout.setEncoding('utf8');
    this.child.stderr.setEncoding('utf8');
    this.child.stdout.on('data', (d: string) => this.onStdout(d));
    this.child.stderr.on('data', (d: string) => this.onStderr(d));
    this.child.stdin.on('error', () => {}); // EPIPE after ip exited on a failing line: reported as its exit
    this.child.onExit((why) => this.exited(why));
    this.armIdle(); // a process started ahead of its work (warm) goes away if none comes
  }

  /** Names this process has resolved (iproute2 cached their ifindex). */
  readonly seen = new Set<string>();

  /** Takes no new batches; exits once those it has are done. */
  retire(): void {
    this.retiring = true;
    if (!this.busy) this.stop();
  }

  get busy(): boolean {
    return this.current !== undefined || this.queue.length > 0;
  }

  run(commands: readonly string[], signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const job: Job = { commands, netns: this.netns, signal, resolve, reject, firstLine: 0 };
      if (this.retiring || this.dead) {
        reject(REQUEUE);
        return;
      }
      if (signal?.aborted) {
        reject(this.error(job, '', 'aborted', status.CANCELLED));
        return;
      }
      for (const c of commands) for (const n of namesIn(c)) this.seen.add(n);
      if (this.seen.size > MAX_SEEN_NAMES) this.retiring = true;
      job.onAbort = () => this.abort(job, status.CANCELLED, 'aborted');
      signal?.addEventListener('abort', job.onAbort, { once: true });
      this.queue.push(job);
      this.clearIdle();
      this.pump();
    });
  }

  stop(): void {
    if (this.dead) return;
    this.retiring = true;
    this.child.kill();
  }

  private pump(): void {
    if (this.dead || this.current || this.queue.length === 0) return;
    const job = this.queue.shift()!;
    this.current = job;
    job.firstLine = this.linesWritten + 1;
    this.linesWritten += job.commands.length + 1;
    job.timer = setTimeout(
      () => this.abort(job, status.DEADLINE_EXCEEDED, `timed out after ${this.opts.timeoutMs} ms`),
      this.opts.timeoutMs,
    );
    this.child.stdin.write(`${job.commands.join('\n')}\n${SENTINEL}\n`);
  }

  private onStdout(d: string): void {
    this.stdout += d;
    let nl = this.stdout.indexOf('\n');
    while (nl >= 0) {
      const line = this.stdout.slice(0, nl);
      this.stdout = this.stdout.slice(nl + 1);
      if (SENTINEL_OUTPUT.test(line) && this.current) this.finish(this.current);
      nl = this.stdout.indexOf('\n');
    }
  }

  private onStderr(d: string): void {
    this.stderr += withoutExitLine(d);
    const lines = this.stderr.split('\n');
    const at = lines.findIndex((l) => FAILURE_MARK.test(l.trim()));
    if (at < 0 || !this.current) return;
    const job = this.current;
    const n = Number(FAILURE_MARK.exec(lines[at].trim())![1]);
    const message = lines
      .slice(0, at)
      .map((l) => l.trim())
      .filter(Boolean)
      .join('; ');
    this.stderr = '';
    this.retiring = true; // iproute2 exits after a failing line
    const index = n - job.firstLine;
    const command = index >= 0 && index < job.commands.length ? job.commands[index] : '';
    this.finish(job, this.error(job, command, message || 'no error output'));
  }

  private exited(why: string): void {
    if (this.dead) return;
    this.dead = true;
    this.clearIdle();
    const stderr = this.stderr
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean)
      .join('; ');
    if (this.current) this.settle(this.current, this.error(this.current, '', stderr || why));
    this.current = undefined;
    // Queued batches never reached this process: the pool runs them in a new one.
    for (const job of this.queue.splice(0)) this.settle(job, REQUEUE);
    this.onExit(this);
  }

  private abort(job: Job, code: status, why: string): void {
    const queued = this.queue.indexOf(job);
    if (queued >= 0) {
      this.queue.splice(queued, 1);
      this.settle(job, this.error(job, job.commands[0] ?? '', why, code));
      return;
    }
    if (this.current !== job) return;
    // We cannot know how far it got: the process goes, the next batch gets a new one.
    this.current = undefined;
    this.settle(job, this.error(job, job.commands[0] ?? '', why, code));
    this.stop();
  }

  private finish(job: Job, err?: unknown): void {
    this.current = undefined;
    this.settle(job, err);
    if (err === undefined) this.pump();
    if (!this.busy && !this.dead) {
      if (this.retiring) this.stop();
      else this.armIdle();
    }
  }

  private settle(job: Job, err?: unknown): void {
    if (job.settled) return;
    job.settled = true;
    clearTimeout(job.timer);
    if (job.onAbort) job.signal?.removeEventListener('abort', job.onAbort);
    if (err === undefined) job.resolve();
    else job.reject(err);
  }

  private error(job: Job, command: string, stderr: string, code?: status): KernelCommandError {
    return new KernelCommandError({
      command,
      stderr,
      netns: job.netns,
      ...(code === undefined ? {} : { code }),
    });
  }

  /** An idle process must not keep its daemon (or a test) alive; a busy one must. */
  private setRef(ref: boolean): void {
    this.child.setRef(ref);
  }

  private armIdle(): void {
    this.clearIdle();
    this.setRef(false);
    this.idleTimer = setTimeout(() => this.stop(), this.opts.idleMs);
    this.idleTimer.unref();
  }

  private clearIdle(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    if (!this.dead) this.setRef(true);
  }
}

/** The long-lived batch processes of one runner, by namespace. */
export class BatchPool {
  private readonly procs = new Map<string, BatchProcess>();
  private readonly starting = new Map<string, Promise<BatchProcess | undefined>>();

  private closed = false;

  constructor(
    private readonly opts: BatchPoolOptions,
    /** Starts the processes for other namespaces without a spawn on Node's event loop (ip-fifo.ts). */
    private readonly starter?: FifoStarter,
  ) {}

  /** Runs a batch in a long-lived process; false when none can be had (the caller spawns one-shot). */
  async run(netns: string | null, commands: readonly string[], signal?: AbortSignal): Promise<boolean> {
    this.forgetCreated(netns, commands);
    for (;;) {
      const p = await this.get(netns);
      if (!p) return false;
      try {
        await p.run(commands, signal);
        return true;
      } catch (e) {
        if (e !== REQUEUE) throw e;
      }
    }
  }

  /**
   * Retires the processes that cached a name these commands create (see the top of this file); also
   * called for the batches that go to rtnetlink instead (netlink/).
   */
  forgetCreated(netns: string | null, commands: readonly string[]): void {
    for (const c of commands) {
      for (const made of createdNames(c)) {
        const key = made.netns ?? netns ?? '';
        const p = this.procs.get(key);
        if (p?.seen.has(made.name)) {
          p.retire();
          this.procs.delete(key);
        }
      }
    }
  }

  /** Starts the process for netns ahead of its first batch (the exec overlaps other work). */
  warm(netns: string | null): void {
    if (this.procs.has(netns ?? '')) return;
    // Never at the cost of another process: under a burst, warm ones would only evict each other.
    if (this.procs.size >= this.opts.maxProcesses) return;
    this.get(netns).catch(() => {});
  }

  /** Whether netns has a live process that takes batches, or one on its way (warm). */
  has(netns: string | null): boolean {
    if (this.starting.has(netns ?? '')) return true;
    const p = this.procs.get(netns ?? '');
    return p !== undefined && !p.dead && !p.retiring;
  }

  get size(): number {
    return this.procs.size;
  }

  close(): void {
    this.closed = true;
    for (const p of this.procs.values()) p.stop();
    this.procs.clear();
  }

  private async get(netns: string | null): Promise<BatchProcess | undefined> {
    const key = netns ?? '';
    const pending = this.starting.get(key);
    if (pending) return pending;
    const started = this.lookup(netns, key);
    this.starting.set(key, started);
    try {
      return await started;
    } finally {
      this.starting.delete(key);
    }
  }

  private async lookup(netns: string | null, key: string): Promise<BatchProcess | undefined> {
    const identity = netns === null ? null : identityOf(netns);
    const have = this.procs.get(key);
    if (have && !have.dead && !have.retiring && have.identity === identity) return have;
    if (have) {
      // Retiring (it drains what it has and exits), or the path names another namespace now (or
      // none): either way that process must not get this batch.
      if (have.identity !== identity) have.stop();
      else have.retire();
      this.procs.delete(key);
    }
    // A namespace that is gone gets a one-shot `ip`, which reports NOT_FOUND the usual way.
    if (netns !== null && identity === null) return undefined;
    if (this.procs.size >= this.opts.maxProcesses && !this.evictIdle()) return undefined;
    let started: IpProcess | undefined;
    if (netns !== null && this.starter) {
      started = await this.starter.start(netns);
      if (!started) return undefined; // the batch runs one-shot
      if (this.closed) {
        started.kill();
        return undefined;
      }
    }
    const p = new BatchProcess(
      netns,
      identity,
      this.opts,
      (gone) => {
        if (this.procs.get(key) === gone) this.procs.delete(key);
      },
      started,
    );
    this.procs.set(key, p);
    return p;
  }

  /** Stops one process that has no work, to make room. */
  private evictIdle(): boolean {
    for (const [key, p] of this.procs) {
      if (!p.busy && key !== '') {
        p.stop();
        this.procs.delete(key);
        return true;
      }
    }
    return false;
  }
}

/**
 * "DEV/INO" of the namespace file at path; null when there is none (the namespace is gone). A stat
 * on nsfs or procfs never waits for a disk, so it is made synchronously: before every batch, the
 * thread-pool round trip of an async stat cost more than the stat itself.
 */
export function identityOf(path: string): string | null {
  try {
    const st = statSync(path, { bigint: true });
    return `${st.dev}/${st.ino}`;
  } catch {
    return null;
  }
}
