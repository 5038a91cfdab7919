// Long-lived `ip -o -batch -` processes that a shell starts, talking to Node through named pipes.
//
// Why. A pod's namespace gets a batch when its connection is set up, after the endpoint answered
// (the addresses come from it). Run one-shot, that batch pays `nsenter` + `ip` exec first (~3 ms
// here) on the request's critical path. A process started when the request arrives (the forwarder's
// `prepare`) is ready by the time the endpoint answers, and its batch takes ~1 ms. But Node cannot
// start it: `spawn` forks the whole daemon and blocks the event loop until the child has exec'ed
// (~5 ms for a 100+ MiB process, see ip-shell.ts), which costs more than it saves. A long-lived shell
// forks it instead, and the only channel a shell can hand over without fd passing is a path: three
// FIFOs in a directory of ours, for the process's stdin, stdout and stderr.
//
// Protocol. One shell job per process:
//
//     { { nsenter --net=NETNS ip -o -batch -; echo "MARK $?" >&2; } <IN >OUT 2>ERR & echo "pid $!"; }
//
// The FIFOs live in a directory named after our pid (see sweepFifoDirs for one a SIGKILL left), made
// ahead, 64 per `mkfifo` (an exec, ~1 ms; a job that finds none left makes its own first). Node
// opens the three FIFOs read-write and non-blocking (Linux: opening a FIFO so never waits for the
// other side, and our side never sees EOF), which also lets the background job's blocking opens go
// on. The batch protocol on them is the pool's (ip-batch-pool.ts). When `ip`
// exits, the job writes MARK and its exit code on stderr: that is the process's exit (we hold every
// FIFO open ourselves, so no EOF would say it). The FIFOs are unlinked as soon as `ip` answered once
// (it has opened them).
//
// At most 4 processes start at once: under a burst of pods the endpoint answers before a process is
// ready, so it saves nothing and costs a fork more than a one-shot run (200 pods at once, same
// session: 108 connections/s before this file, 90-104 without the cap, 132-137 with it).
//
// Stopping: the job's shell is killed with SIGKILL and our end of stdin closed: `ip` reads EOF and
// exits. The processes run in the starting shell's process group, so closing the launcher (which
// kills its shells' groups) stops them all; a launcher shell killed because one of its jobs hung
// would take them with it too, and their next batch would time out (its jobs are a fork or a
// mkfifo, which do not hang).
import {
  closeSync,
  constants as fsConstants,
  mkdtempSync,
  openSync,
  readdirSync,
  rmSync,
  unlink as unlinkFile,
} from 'node:fs';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { logger } from '../tools/log.js';
import { processAlive } from '../tools/process-alive.js';
import { type ShellLauncher, shellQuote } from './ip-shell.js';

/** The line a process's shell writes on its stderr when `ip` exited: MARK CODE. */
export const EXIT_MARK = 'NSM_IP_EXITED';
const EXIT_LINE = new RegExp(`^${EXIT_MARK} (\\d+)$`, 'm');
const EXIT_LINES = new RegExp(`^${EXIT_MARK} \\d+\n?`, 'gm');

/** stderr without the exit line, which is ours, not part of ip's error output. */
export function withoutExitLine(stderr: string): string {
  return stderr.replace(EXIT_LINES, '');
}

/** What the batch pool needs of a long-lived `ip`: spawned by Node, or started by a shell. */
export interface IpProcess {
  readonly stdin: NodeJS.WritableStream & { on(event: 'error', cb: (e: Error) => void): unknown };
  readonly stdout: NodeJS.ReadableStream;
  readonly stderr: NodeJS.ReadableStream;
  /** Called once, when the process has exited (or could not start), with why. */
  onExit(cb: (why: string) => void): void;
  kill(): void;
  /** Whether it may keep the daemon's event loop alive (busy: yes; idle: no). */
  setRef(ref: boolean): void;
}

interface FifoPaths {
  readonly in: string;
  readonly out: string;
  readonly err: string;
}

/** The script of one process's shell job (exported for tests); `make`: its FIFOs do not exist yet. */
export function fifoJobScript(
  paths: FifoPaths,
  netns: string,
  bins: { ipBinary: string; nsenterBinary: string },
  make: boolean,
): string {
  const [i, o, e] = [paths.in, paths.out, paths.err].map(shellQuote);
  const ip = [bins.nsenterBinary, `--net=${netns}`, bins.ipBinary, '-o', '-batch', '-']
    .map(shellQuote)
    .join(' ');
  const start = `{ { ${ip}; echo "${EXIT_MARK} $?" >&2; } <${i} >${o} 2>${e} & echo "pid $!"; }`;
  return make ? `mkfifo -m 600 ${i} ${o} ${e} && ${start}` : start;
}

/**
 * FIFOs made ahead, so that starting a process is one fork in the shell (mkfifo is an exec, ~1 ms):
 * one mkfifo for this many processes, made when fewer than STOCK_LOW are left (a burst of pods).
 */
const STOCK_LOW = 16;
const STOCK_BATCH = 64;
/** At most this many processes starting at once; beyond, batches run one-shot. */
const MAX_STARTING = 4;

const log = logger('kernel');

/** Starts batch processes in namespaces through a launcher's shells. */
export class FifoStarter {
  private dir: string | undefined;
  private seq = 0;
  private broken = false;
  private readonly stock: FifoPaths[] = [];
  private restocking = false;
  private starting = 0;

  constructor(
    private readonly shells: ShellLauncher,
    private readonly bins: { ipBinary: string; nsenterBinary: string },
  ) {}

  /**
   * A process in netns, or undefined when none could be started or too many are starting already
   * (the caller runs its batch one-shot): under a burst of pods the process saves nothing (the
   * endpoint answers before it is ready) and costs a fork more than a one-shot run.
   */
  async start(netns: string): Promise<IpProcess | undefined> {
    if (this.starting >= MAX_STARTING || /[\n\r\0]/.test(netns) || !this.ensureDir()) return undefined;
    this.starting++;
    try {
      return await this.startNow(netns);
    } finally {
      this.starting--;
    }
  }

  private async startNow(netns: string): Promise<IpProcess | undefined> {
    const made = this.stock.pop();
    const paths = made ?? this.newPaths();
    this.restock();
    // Once (when ip has opened them, or at its exit if it never answered): a plain unlink each, not
    // fs.rm, whose recursive machinery (lstat first, then unlink) was 5% of the nodeagent's CPU.
    let unlinked = false;
    const unlink = () => {
      if (unlinked) return;
      unlinked = true;
      for (const p of [paths.in, paths.out, paths.err]) unlinkFile(p, ignoreError);
    };
    // FIFOs that exist are opened first, so the child's opens never wait for ours.
    let fds = made ? openAll(paths) : undefined;
    if (made && !fds) {
      unlink();
      return undefined;
    }
    const res = await this.shells
      .run({
        netns,
        ipArgs: [],
        lines: null,
        what: 'start ip',
        script: fifoJobScript(paths, netns, this.bins, !made),
      })
      .catch(() => undefined);
    const pid = Number(/^pid (\d+)$/m.exec(res?.output ?? '')?.[1]);
    fds ??= res?.code === 0 ? openAll(paths) : undefined;
    if (res?.code !== 0 || !(pid > 0) || !fds) {
      if (pid > 0) killQuietly(pid);
      for (const fd of fds ?? []) closeSync(fd);
      unlink();
      return undefined;
    }
    return new FifoProcess(pid, fds, unlink);
  }

  close(): void {
    process.off('exit', this.removeDir);
    this.removeDir();
  }

  private ensureDir(): boolean {
    if (this.broken) return false;
    if (this.dir !== undefined) return true;
    try {
      sweepFifoDirs();
      this.dir = mkdtempSync(join(tmpdir(), `${DIR_PREFIX}${process.pid}-`));
      process.once('exit', this.removeDir); // a daemon that exits without closing its runner
      return true;
    } catch (e) {
      this.broken = true; // a read-only /tmp: every batch for a pod runs one-shot, as before
      log.warn({ err: e }, 'no directory for the batch processes’ pipes: batches for pods run one-shot');
      return false;
    }
  }

  private newPaths(): FifoPaths {
    const base = join(this.dir!, String(++this.seq));
    return { in: `${base}.in`, out: `${base}.out`, err: `${base}.err` };
  }

  private restock(): void {
    if (this.restocking || this.stock.length >= STOCK_LOW || this.dir === undefined) return;
    this.restocking = true;
    const batch = Array.from({ length: STOCK_BATCH }, () => this.newPaths());
    const all = batch.flatMap((p) => [p.in, p.out, p.err]);
    this.shells
      .run({
        netns: null,
        ipArgs: [],
        lines: null,
        what: 'mkfifo',
        script: `mkfifo -m 600 ${all.map(shellQuote).join(' ')}`,
      })
      .then(
        (r) => {
          if (r.code === 0 && this.dir !== undefined) this.stock.push(...batch);
        },
        () => {},
      )
      .finally(() => {
        this.restocking = false;
      });
  }

  private readonly removeDir = (): void => {
    if (this.dir !== undefined) rmSync(this.dir, { recursive: true, force: true });
    this.dir = undefined;
    this.stock.length = 0;
  };
}

const DIR_PREFIX = 'nsm-ip-';
/** `nsm-ip-PID-XXXXXX`: the directory of the runner in process PID. */
const OWNED_DIR = new RegExp(`^${DIR_PREFIX}(\\d+)-`);

/**
 * Removes the FIFO directories of processes that are gone: a daemon killed with SIGKILL cannot remove
 * its own (its name carries its pid). Run before a runner makes its directory, and by the sandbox's
 * teardown. A pid that is alive again (reused) keeps its directory.
 */
export function sweepFifoDirs(dir: string = tmpdir()): void {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    const pid = Number(OWNED_DIR.exec(name)?.[1]);
    if (!(pid > 0) || pid === process.pid || processAlive(pid)) continue;
    rmSync(join(dir, name), { recursive: true, force: true });
  }
}

/** Our ends of a process's FIFOs: read-write and non-blocking, so opening never waits (Linux). */
function openAll(paths: FifoPaths): number[] | undefined {
  const fds: number[] = [];
  try {
    for (const p of [paths.in, paths.out, paths.err])
      fds.push(openSync(p, fsConstants.O_RDWR | fsConstants.O_NONBLOCK));
    return fds;
  } catch {
    for (const fd of fds) closeSync(fd);
    return undefined;
  }
}

/** A FIFO already gone (its directory removed at close) is no error. */
function ignoreError(): void {}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {}
}

class FifoProcess implements IpProcess {
  readonly stdin: Socket;
  readonly stdout: Socket;
  readonly stderr: Socket;
  private readonly exitCbs: ((why: string) => void)[] = [];
  private exitedWhy: string | undefined;
  private errTail = '';

  constructor(
    private readonly pid: number,
    fds: number[],
    private readonly unlink: () => void,
  ) {
    this.stdin = new Socket({ fd: fds[0], readable: false, writable: true });
    this.stdout = new Socket({ fd: fds[1], readable: true, writable: false });
    this.stderr = new Socket({ fd: fds[2], readable: true, writable: false });
    this.stdout.once('data', unlink); // ip answered: it has opened all three
    this.stderr.on('data', (d: Buffer | string) => {
      this.errTail = (this.errTail + d.toString()).slice(-256);
      const m = EXIT_LINE.exec(this.errTail);
      if (m) this.exited(`ip exited (code ${m[1]})`);
    });
    for (const s of [this.stdin, this.stdout, this.stderr]) s.on('error', () => {});
  }

  onExit(cb: (why: string) => void): void {
    if (this.exitedWhy !== undefined) cb(this.exitedWhy);
    else this.exitCbs.push(cb);
  }

  kill(): void {
    killQuietly(this.pid); // the job's shell: no exit line will come
    this.exited('ip stopped');
  }

  setRef(ref: boolean): void {
    for (const s of [this.stdin, this.stdout, this.stderr]) {
      if (ref) s.ref();
      else s.unref();
    }
  }

  private exited(why: string): void {
    if (this.exitedWhy !== undefined) return;
    this.exitedWhy = why;
    // Let what ip wrote last (an error before its exit line) reach the pool before the exit does.
    setImmediate(() => {
      for (const s of [this.stdin, this.stdout, this.stderr]) s.destroy(); // stdin's EOF stops ip
      this.unlink();
      for (const cb of this.exitCbs.splice(0)) cb(why);
    });
  }
}
