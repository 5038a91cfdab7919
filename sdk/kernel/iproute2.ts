// The only place in the product that spawns `ip`. Everything else talks to the kernel through an
// IpRunner, so elements stay testable with the recording fake.
//
// A batch made only of lines our builders emit runs over rtnetlink from this process (netlink/), with
// no process at all; what follows is about the rest (policy rules, bridges, JSON queries), and about
// every batch when rtnetlink is off.
//
// Batches go to a long-lived `ip -batch -` per namespace (ip-batch-pool.ts): a connection then costs
// a write to a pipe instead of an exec. `force` batches (clean-up) and JSON queries spawn one `ip`
// each. iproute2 stops at the first failing line and reports it as "Command failed -:LINE"; we map
// LINE back to the command. A namespace is always entered with `nsenter --net=PATH`, never with
// `ip -n NAME`: that one unshares the mount namespace to remount /sys, copying the whole mount table,
// and with a thousand pods on the node (a thousand netns mounts) one call took 10-13 ms instead of 3.
import { spawn } from 'node:child_process';
import { status } from '@grpc/grpc-js';
import { internal, invalidArgument, NsmError } from '../errors/index.js';
import { logger, traceEnabled } from '../tools/log.js';
import { printsLoopback } from './ip-batch-lines.js';
import { BatchPool, identityOf } from './ip-batch-pool.js';
import { FifoStarter } from './ip-fifo.js';
import { ShellLauncher } from './ip-shell.js';
import { KernelCommandError } from './kernel-command-error.js';
import { type Rtnl, readLines, rtnl, runNetlinkBatch } from './netlink/index.js';

export { isKernelCommandError, KernelCommandError, kernelErrorCode } from './kernel-command-error.js';

const TRACER = 'kernel';
/** An `ip` process that has not finished after this long is killed (rtnl lock stuck, hung netns). */
export const IP_TIMEOUT_MS = 30_000;
/** iproute2's compiled-in directory of named namespaces (`ip -n NAME` looks here). */
export const NETNS_RUN_DIR = '/var/run/netns';

/** A network namespace by path, e.g. /var/run/netns/foo or /proc/123/ns/net. null means "the caller's own". */
export interface NetnsRef {
  readonly path: string;
}

export interface RunOptions {
  /** Aborting kills the `ip` process and rejects with CANCELLED. */
  readonly signal?: AbortSignal;
}

export interface BatchOptions extends RunOptions {
  /** Keep going after a failing line (`ip -force`); the first failure is still reported. For cleanup. */
  readonly force?: boolean;
  /**
   * 6: run as `ip -6 -batch` (one-shot). Lines cannot say `-6` themselves, and `ip rule` cannot tell the
   * family from its selectors, so IPv6 rules need it.
   */
  readonly family?: 6;
}

/**
 * Runs iproute2 commands in a network namespace.
 *
 * Contract: `batch` resolves once every command ran successfully; on the first failing command it
 * rejects with a KernelCommandError naming that command (commands after it did not run unless
 * `force`). `json` runs one `ip -json` query and resolves with the parsed output ([] when iproute2
 * printed nothing). Both may be called concurrently, also for the same namespace. After `close()`
 * both reject with FAILED_PRECONDITION; `close` waits for nothing that a caller did not await.
 */
export interface IpRunner {
  /** Runs `ip -batch -` in netns with these lines (each an `ip` command without the leading "ip"). */
  batch(netns: NetnsRef | null, commands: readonly string[], opts?: BatchOptions): Promise<void>;
  /** Runs one `ip -json <args>` query in netns, e.g. ['-d', 'link', 'show'], and returns the parsed JSON. */
  json<T>(netns: NetnsRef | null, args: readonly string[], opts?: RunOptions): Promise<T>;
  /**
   * A hint that batches for netns follow soon (a request for a pod arrived): a runner with
   * long-lived processes starts one now, so its exec overlaps the rest of the request. Optional.
   */
  prepare?(netns: NetnsRef | null): void;
  close(): Promise<void>;
}

export interface IpRunnerOptions {
  /** Path or name of the `ip` binary (default "ip" from PATH). */
  readonly ipBinary?: string;
  /** Path or name of `nsenter` (default "nsenter" from PATH). */
  readonly nsenterBinary?: string;
  readonly timeoutMs?: number;
  /**
   * Long-lived `ip -batch` processes, one per namespace (default true). Off, every batch spawns
   * its own `ip` (the behaviour before; kept for comparison in the bench).
   */
  readonly longLived?: boolean;
  /** A long-lived process without work for this long exits and releases its namespace (default 2 s). */
  readonly idleMs?: number;
  /** At most this many long-lived processes (default 256); beyond it, batches spawn one-shot. */
  readonly maxProcesses?: number;
  /**
   * With `longLived`, one-shot runs are started by this many long-lived shells instead of by Node
   * (default 4; see ip-shell.ts). 0: Node spawns them.
   */
  readonly shells?: number;
  /** The shell for that (default "sh"). */
  readonly shellBinary?: string;
  /**
   * Batches made only of the lines our builders emit (veth and VXLAN creates, link set, addresses,
   * routes, neighbours, link del) go to rtnetlink from this process instead of `ip` (default true; see
   * netlink/). Other batches, queries, and every batch where rtnetlink cannot be loaded use `ip`.
   */
  readonly netlink?: boolean;
  /**
   * A shell without work for this long exits (default `idleMs`). Shells hold no namespace, unlike
   * the batch processes (whose `idleMs` is short for that reason), so a daemon may keep them longer.
   */
  readonly shellIdleMs?: number;
}

export const DEFAULT_IDLE_MS = 2000;
export const DEFAULT_MAX_PROCESSES = 256;
export const DEFAULT_SHELLS = 4;
/** Shells that start the JSON queries (see `run`). */
const QUERY_SHELLS = 2;
/** Namespaces whose last batch was this recent are remembered (for `isBusy`), at most this many. */
const MAX_REMEMBERED_NAMESPACES = 4096;
/** A namespace with this many batches in a row (each within `idleMs` of the last) earns a long-lived `ip`. */
const BUSY_AFTER_BATCHES = 2;

export function newIpRunner(opts: IpRunnerOptions = {}): IpRunner {
  return new SpawnIpRunner({
    ipBinary: opts.ipBinary ?? 'ip',
    nsenterBinary: opts.nsenterBinary ?? 'nsenter',
    timeoutMs: opts.timeoutMs ?? IP_TIMEOUT_MS,
    longLived: opts.longLived ?? true,
    idleMs: opts.idleMs ?? DEFAULT_IDLE_MS,
    maxProcesses: opts.maxProcesses ?? DEFAULT_MAX_PROCESSES,
    shells: opts.shells ?? DEFAULT_SHELLS,
    shellBinary: opts.shellBinary ?? 'sh',
    shellIdleMs: opts.shellIdleMs ?? opts.idleMs ?? DEFAULT_IDLE_MS,
    netlink: opts.netlink ?? true,
  });
}

/** The argv that runs `ip <ipArgs>` inside netns. Exported for tests. */
export function ipArgv(
  netns: NetnsRef | null,
  ipArgs: readonly string[],
  bins: { ipBinary: string; nsenterBinary: string } = { ipBinary: 'ip', nsenterBinary: 'nsenter' },
): string[] {
  if (netns === null || netns === undefined) return [bins.ipBinary, ...ipArgs];
  return [bins.nsenterBinary, `--net=${netns.path}`, bins.ipBinary, ...ipArgs];
}

/** Splits iproute2's batch stderr into the failing line number and the message for it. Exported for tests. */
export function parseBatchFailure(stderr: string): { line: number; message: string } | null {
  const lines = stderr.split('\n');
  const at = lines.findIndex((l) => /^Command failed -:\d+$/.test(l.trim()));
  if (at < 0) return null;
  const line = Number(lines[at].trim().slice('Command failed -:'.length));
  // The message is what iproute2 printed since the previous failure marker (with -force there can be several).
  const message = lines
    .slice(0, at)
    .map((l) => l.trim())
    .filter(Boolean)
    .join('; ');
  return { line, message };
}

interface ProcessResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

interface SpawnOptions {
  ipBinary: string;
  nsenterBinary: string;
  timeoutMs: number;
  longLived: boolean;
  idleMs: number;
  maxProcesses: number;
  shells: number;
  shellBinary: string;
  shellIdleMs: number;
  netlink: boolean;
}

class SpawnIpRunner implements IpRunner {
  private closed = false;
  private readonly log = logger('kernel');
  private readonly pool: BatchPool | undefined;
  private readonly shells: ShellLauncher | undefined;
  private readonly queryShells: ShellLauncher | undefined;
  /**
   * The shells that start the long-lived processes for other namespaces (ip-fifo.ts): their own, so
   * that a start never waits behind a one-shot run (a `link del` takes tens of milliseconds).
   */
  private readonly starterShells: ShellLauncher | undefined;
  private readonly starter: FifoStarter | undefined;
  /**
   * Namespace path → when it last got a batch and how many it got in a row, each within `idleMs` of
   * the one before (oldest first), to tell busy namespaces from pods.
   */
  private readonly recent = new Map<string, { at: number; batches: number }>();
  /** rtnetlink for the batches it can run; undefined when off or when it cannot be loaded here. */
  private readonly rtnl: Rtnl | undefined;

  constructor(private readonly opts: SpawnOptions) {
    this.rtnl = opts.netlink ? this.loadRtnl() : undefined;
    const shells = { ...opts, idleMs: opts.shellIdleMs };
    const withShells = opts.longLived && opts.shells > 0;
    this.shells = withShells ? new ShellLauncher(shells) : undefined;
    this.queryShells = withShells ? new ShellLauncher({ ...shells, shells: QUERY_SHELLS }) : undefined;
    this.starterShells = withShells ? new ShellLauncher(shells) : undefined;
    this.starter = this.starterShells && new FifoStarter(this.starterShells, opts);
    this.pool = opts.longLived ? new BatchPool(opts, this.starter) : undefined;
  }

  private loadRtnl(): Rtnl | undefined {
    try {
      return rtnl();
    } catch (e) {
      this.log.warn(
        { err: e },
        'rtnetlink unavailable (koffi or glibc cannot be loaded): every batch runs ip',
      );
      return undefined;
    }
  }

  prepare(netns: NetnsRef | null): void {
    const where = netns?.path ?? null;
    // With rtnetlink no batch of a connection needs a process (netlink/).
    if (this.closed || this.rtnl) return;
    // A pod's namespace gets a process ahead of its batch only when a shell starts it (ip-fifo.ts):
    // it execs while the request is on its way to the endpoint, and the batch after the endpoint's
    // answer takes ~1 ms instead of ~4 (nsenter + ip exec). Spawned by Node it was one more spawn on
    // the event loop per request, which blocked the loop (p50 4.4 ms, p90 17.5 ms at load 9-25) just
    // while the request was on its way, so without the shells only a namespace that earns a
    // long-lived process gets one ahead.
    if (this.starter || this.isBusy(where, false)) this.pool?.warm(where);
  }

  /**
   * Whether a namespace earns a long-lived process: ours, one that has one, or one that got
   * `BUSY_AFTER_BATCHES` batches in a row, each within `idleMs` of the one before (an endpoint's,
   * which gets two per connection). A pod's namespace sees one batch when its connection is set up
   * and one when it is closed (a remote one: the VXLAN's `link del`), for which a long-lived process
   * is one more spawn on Node's event loop plus an idle process: its batches are started by the
   * shells. (With "one batch within idleMs", a remote pod's close spawned a process for its one
   * `link del` when it closed within 2 s of its setup, as the bench's sequential clients do.)
   */
  private isBusy(where: string | null, record: boolean): boolean {
    if (where === null || !this.shells || this.pool?.has(where)) return true;
    const now = performance.now();
    const seen = this.recent.get(where);
    const inRow = seen !== undefined && now - seen.at < this.opts.idleMs ? seen.batches : 0;
    if (record) {
      this.recent.delete(where); // re-inserted last: the map stays ordered by time
      this.recent.set(where, { at: now, batches: inRow + 1 });
      for (const [k, v] of this.recent) {
        if (this.recent.size <= MAX_REMEMBERED_NAMESPACES && now - v.at < this.opts.idleMs) break;
        this.recent.delete(k);
      }
    }
    return inRow >= BUSY_AFTER_BATCHES;
  }

  async batch(netns: NetnsRef | null, commands: readonly string[], opts: BatchOptions = {}): Promise<void> {
    this.checkOpen();
    if (commands.length === 0) return;
    for (const c of commands) {
      if (c.trim().length === 0 || /[\n\r\0]/.test(c)) {
        throw invalidArgument(`invalid ip batch line ${JSON.stringify(c)}: must be one non-empty line`);
      }
    }
    const where = netns?.path ?? null;
    const started = performance.now();
    const ops = this.rtnl && !opts.family ? readLines(commands) : undefined;
    if (ops) {
      if (opts.signal?.aborted) {
        throw new KernelCommandError({
          command: commands[0],
          stderr: 'aborted',
          netns: where,
          code: status.CANCELLED,
        });
      }
      this.pool?.forgetCreated(where, commands); // a long-lived ip may have cached the old ifindex
      try {
        await runNetlinkBatch(this.rtnl!, where, commands, ops, opts.force);
      } finally {
        if (traceEnabled(TRACER)) {
          this.log.info(
            { op: 'batch', netns: where, commands, ms: performance.now() - started, netlink: true },
            'ip batch',
          );
        }
      }
      return;
    }
    const longLived =
      this.pool && !opts.force && !opts.family && !commands.some(printsLoopback) && this.isBusy(where, true);
    if (longLived && (await this.pool!.run(where, commands, opts.signal))) {
      if (traceEnabled(TRACER)) {
        this.log.info(
          { op: 'batch', netns: where, commands, ms: performance.now() - started, longLived: true },
          'ip batch',
        );
      }
      return;
    }
    const args = [...(opts.family ? ['-6'] : []), ...(opts.force ? ['-force'] : []), '-batch', '-'];
    const res = await this.run(netns, args, `${commands.join('\n')}\n`, opts.signal, commands[0]);
    if (traceEnabled(TRACER)) {
      this.log.info(
        { op: 'batch', netns: where, commands, ms: performance.now() - started, code: res.code },
        'ip batch',
      );
    }
    if (res.code === 0) return;
    const failure = parseBatchFailure(res.stderr);
    if (failure && failure.line >= 1 && failure.line <= commands.length) {
      throw new KernelCommandError({
        command: commands[failure.line - 1],
        stderr: failure.message,
        netns: where,
      });
    }
    throw new KernelCommandError({
      command: '',
      stderr: oneLine(res.stderr) || `exit code ${res.code}`,
      netns: where,
    });
  }

  async json<T>(netns: NetnsRef | null, args: readonly string[], opts: RunOptions = {}): Promise<T> {
    this.checkOpen();
    const where = netns?.path ?? null;
    const started = performance.now();
    const ipArgs = ['-json', ...args];
    const command = ipArgs.join(' ');
    const res = await this.run(netns, ipArgs, null, opts.signal, command);
    if (traceEnabled(TRACER)) {
      this.log.info(
        { op: 'json', netns: where, args, ms: performance.now() - started, code: res.code },
        'ip json',
      );
    }
    if (res.code !== 0) {
      throw new KernelCommandError({
        command,
        stderr: oneLine(res.stderr) || `exit code ${res.code}`,
        netns: where,
      });
    }
    const text = res.stdout.trim();
    if (text === '') return [] as T;
    try {
      return JSON.parse(text) as T;
    } catch (e) {
      throw internal(
        `failed to parse the output of "ip ${command}" in ${where ?? 'the current network namespace'}`,
        e,
      );
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.pool?.close();
    this.shells?.close();
    this.queryShells?.close();
    this.starterShells?.close();
    this.starter?.close();
  }

  private checkOpen(): void {
    if (this.closed) throw new NsmError(status.FAILED_PRECONDITION, 'ip runner is closed');
  }

  private async run(
    netns: NetnsRef | null,
    ipArgs: readonly string[],
    input: string | null,
    signal: AbortSignal | undefined,
    what: string,
  ): Promise<ProcessResult> {
    const where = netns?.path ?? null;
    // A namespace that is gone (a deleted pod's) fails as `ip` would, without a process: when a
    // replica's pod went, its forwarder's Closes started ~15 `ip` runs into the dead namespace, each
    // 15-115 ms on a node busy healing, and each Close waited for its run to fail.
    if (where !== null && identityOf(where) === null) {
      return {
        code: 1,
        stdout: '',
        stderr: `Cannot open network namespace "${where}": No such file or directory`,
      };
    }
    // Batches (short, on the request path) go to the shells. JSON queries go to shells of their
    // own: a restarted forwarder's scan lists every namespace on the node, which in the batch
    // shells' queues would hold up the batches of requests behind them, and which spawned from
    // Node blocked its event loop once per namespace (a bench run on a machine with 1119
    // namespaces: 18 s of scan, its last 8 s over the first requests measured).
    if (this.shells && input !== null) {
      const lines = input.split('\n').filter((l) => l !== '');
      return this.shells
        .run({ netns: where, ipArgs, lines, signal, what })
        .then(({ code, output }) => ({ code, stdout: '', stderr: output }));
    }
    if (this.queryShells && input === null) {
      // The shell gives stdout and stderr as one: the JSON when ip succeeded, its complaint if not.
      return this.queryShells
        .run({ netns: where, ipArgs, lines: null, signal, what })
        .then(({ code, output }) =>
          code === 0 ? { code, stdout: output, stderr: '' } : { code, stdout: '', stderr: output },
        );
    }
    const [bin, ...argv] = ipArgv(netns, ipArgs, this.opts);
    return new Promise<ProcessResult>((resolve, reject) => {
      if (signal?.aborted) {
        reject(
          new KernelCommandError({ command: what, stderr: 'aborted', netns: where, code: status.CANCELLED }),
        );
        return;
      }
      const child = spawn(bin, argv, { stdio: ['pipe', 'pipe', 'pipe'] });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      let settled = false;
      const finish = (fn: () => void) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        fn();
      };
      const fail = (code: status, why: string, cause?: unknown) =>
        finish(() => {
          child.kill('SIGKILL');
          reject(new KernelCommandError({ command: what, stderr: why, netns: where, code, cause }));
        });
      const onAbort = () => fail(status.CANCELLED, 'aborted');
      const timer = setTimeout(
        () => fail(status.DEADLINE_EXCEEDED, `timed out after ${this.opts.timeoutMs} ms`),
        this.opts.timeoutMs,
      );
      signal?.addEventListener('abort', onAbort, { once: true });
      child.stdout.on('data', (d: Buffer) => out.push(d));
      child.stderr.on('data', (d: Buffer) => err.push(d));
      child.on('error', (e) => fail(status.INTERNAL, `cannot start ${bin}: ${e.message}`, e));
      child.on('close', (code) =>
        finish(() =>
          resolve({
            code,
            stdout: Buffer.concat(out).toString('utf8'),
            stderr: Buffer.concat(err).toString('utf8'),
          }),
        ),
      );
      // ip exits early after a failing line; a write after that gets EPIPE, which is not our error.
      child.stdin.on('error', () => {});
      child.stdin.end(input ?? '');
    });
  }
}

function oneLine(s: string): string {
  return s
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .join('; ');
}
