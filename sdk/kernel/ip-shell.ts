// One-shot `ip` runs started by a few long-lived shells instead of by Node.
//
// Why. `child_process.spawn` is synchronous in Node: libuv forks and then blocks the event loop
// until the child has exec'ed (it waits on a close-on-exec pipe for the exec's result). That is
// 3 ms here on a quiet machine and tens of milliseconds on a loaded one (the child must be scheduled
// before the parent goes on), and during it the forwarder answers nothing: with 200 requests at
// once it spent 45% of its time inside spawn and requests missed their deadlines. A pod's namespace
// sees one batch per request, so a long-lived `ip` there saves nothing and costs the same spawn.
// A shell (`sh`, dash on Debian: a 1 MB process that forks in microseconds) does the fork and exec
// instead, and Node only writes a few lines to its stdin.
//
// Protocol. A job is written as
//
//     nsenter --net='PATH' ip -batch - <<'DELIM' 2>&1 >/dev/null     (a batch: only stderr comes back)
//     link add …
//     DELIM
//     printf '\nDELIM %s\n' $?
//
// (a query is `ip -json ARGS </dev/null 2>&1`: its output is the JSON, or the error when the exit code
// is not 0). The shell runs one job at a time, so the output up to the line "DELIM <code>" is the
// job's. DELIM is random per shell, and a batch line equal to it is refused. Jobs of one namespace
// always go to the same shell (by a hash of its path), so they run in the order they were given:
// a clean-up after a cancelled create runs after the create, whatever the create did.
//
// A job cannot be stopped on its own. A cancelled job that is still queued is dropped; one that is
// running, or that runs past the timeout, takes its shell with it (the whole process group is
// killed, as a one-shot `ip` would be) and the jobs queued behind it go to a new shell. A shell
// without work for `idleMs` exits.
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { status } from '@grpc/grpc-js';
import { invalidArgument } from '../errors/index.js';
import { KernelCommandError } from './kernel-command-error.js';

export interface ShellOptions {
  readonly shellBinary: string;
  readonly ipBinary: string;
  readonly nsenterBinary: string;
  readonly timeoutMs: number;
  /** How many shells run jobs in parallel. */
  readonly shells: number;
  /** A shell without work for this long exits. */
  readonly idleMs: number;
}

export interface ShellJob {
  /** Namespace path; null runs `ip` where the shell is (our own namespace). */
  readonly netns: string | null;
  /** `ip` arguments, e.g. ['-batch', '-'] or ['-json', 'link', 'show']. */
  readonly ipArgs: readonly string[];
  /** Lines fed to stdin (a batch); null for a query (stdin is /dev/null, stdout comes back). */
  readonly lines: readonly string[] | null;
  readonly signal?: AbortSignal;
  /** The command named in errors. */
  readonly what: string;
  /**
   * A script of our own to run instead of `ip` (ipArgs and lines are then ignored): for the batch
   * pool's processes, which a shell starts (ip-fifo.ts). Never built from a caller's text.
   */
  readonly script?: string;
}

export interface ShellResult {
  readonly code: number;
  /** stderr (and, for a query, stdout) of the job. */
  readonly output: string;
}

interface Pending {
  readonly job: ShellJob;
  readonly resolve: (r: ShellResult) => void;
  readonly reject: (e: unknown) => void;
  settled?: boolean;
  onAbort?: () => void;
  timer?: NodeJS.Timeout;
}

/** Single-quoted for sh: the text as one word, nothing expanded. */
export function shellQuote(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

/** The script of one job (exported for tests). */
export function jobScript(
  job: ShellJob,
  delim: string,
  bins: { ipBinary: string; nsenterBinary: string },
): string {
  const done = `printf '\\n${delim} %s\\n' $?\n`;
  if (job.script !== undefined) return `${job.script}\n${done}`;
  const argv = [
    ...(job.netns === null ? [] : [bins.nsenterBinary, `--net=${job.netns}`]),
    bins.ipBinary,
    ...job.ipArgs,
  ];
  const cmd = argv.map(shellQuote).join(' ');
  if (job.lines === null) return `${cmd} </dev/null 2>&1\n${done}`;
  for (const l of job.lines) {
    if (l === delim || /[\n\r\0]/.test(l))
      throw invalidArgument(`invalid ip batch line ${JSON.stringify(l)}`);
  }
  return `${cmd} 2>&1 >/dev/null <<'${delim}'\n${job.lines.join('\n')}\n${delim}\n${done}`;
}

/** One `sh` that runs jobs in order. */
class Shell {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly delim = `NSM_${randomBytes(8).toString('hex')}`;
  private readonly marker: RegExp;
  private readonly queue: Pending[] = [];
  private current: Pending | undefined;
  private out = '';
  private idleTimer: NodeJS.Timeout | undefined;
  dead = false;
  retiring = false;

  constructor(
    private readonly opts: ShellOptions,
    private readonly onExit: (s: Shell, orphans: Pending[]) => void,
  ) {
    this.marker = new RegExp(`\\n${this.delim} (\\d+)\\n`);
    // Its own process group, so a job that hangs can be killed with everything it started.
    this.child = spawn(opts.shellBinary, ['-s'], { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    this.child.stdout.setEncoding('utf8');
    this.child.stdout.on('data', (d: string) => this.onOutput(d));
    this.child.stderr.resume(); // the shell's own complaints; jobs send theirs to stdout
    this.child.stdin.on('error', () => {}); // EPIPE after the shell died: reported via 'close'
    this.child.on('error', (e) => this.exited(`cannot start ${opts.shellBinary}: ${e.message}`));
    this.child.on('close', (code, sig) => this.exited(`shell exited (${sig ?? `code ${code}`})`));
    this.setRef(false);
  }

  get load(): number {
    return this.queue.length + (this.current ? 1 : 0);
  }

  add(p: Pending): void {
    if (p.onAbort) p.job.signal?.removeEventListener('abort', p.onAbort); // moved from a shell that died
    if (p.job.signal) {
      p.onAbort = () => this.cancel(p);
      p.job.signal.addEventListener('abort', p.onAbort, { once: true });
    }
    this.queue.push(p);
    this.pump();
  }

  stop(): void {
    if (this.dead) return;
    try {
      process.kill(-this.child.pid!, 'SIGKILL');
    } catch {
      this.child.kill('SIGKILL');
    }
  }

  private pump(): void {
    if (this.dead || this.current) return;
    const p = this.queue.shift();
    if (!p) {
      this.setRef(false);
      this.idleTimer = setTimeout(() => {
        this.retiring = true; // new jobs go to a new shell
        this.child.stdin.end(); // sh exits at EOF
      }, this.opts.idleMs);
      this.idleTimer.unref();
      return;
    }
    clearTimeout(this.idleTimer);
    let script: string;
    try {
      script = jobScript(p.job, this.delim, this.opts);
    } catch (e) {
      settle(p, e);
      this.pump();
      return;
    }
    this.setRef(true);
    this.current = p;
    p.timer = setTimeout(() => {
      settle(p, jobError(p.job, `timed out after ${this.opts.timeoutMs} ms`, status.DEADLINE_EXCEEDED));
      this.stop(); // queued jobs go to a new shell (see exited)
    }, this.opts.timeoutMs);
    this.child.stdin.write(script);
  }

  private onOutput(d: string): void {
    this.out += d;
    for (;;) {
      const m = this.marker.exec(this.out);
      if (!m) return;
      const output = this.out.slice(0, m.index);
      this.out = this.out.slice(m.index + m[0].length);
      const p = this.current;
      this.current = undefined;
      if (p) settle(p, undefined, { code: Number(m[1]), output });
      this.pump();
    }
  }

  private cancel(p: Pending): void {
    const at = this.queue.indexOf(p);
    if (at >= 0) this.queue.splice(at, 1);
    settle(p, jobError(p.job, 'aborted', status.CANCELLED));
    if (this.current === p) this.stop(); // queued jobs go to a new shell (see exited)
  }

  private exited(why: string): void {
    if (this.dead) return;
    this.dead = true;
    clearTimeout(this.idleTimer);
    if (this.current) settle(this.current, jobError(this.current.job, why, status.INTERNAL));
    this.current = undefined;
    this.onExit(this, this.queue.splice(0));
  }

  /** A shell without work must not keep its daemon (or a test) alive. */
  private setRef(ref: boolean): void {
    for (const h of [this.child, this.child.stdin, this.child.stdout, this.child.stderr] as {
      ref?: () => void;
      unref?: () => void;
    }[]) {
      if (ref) h.ref?.();
      else h.unref?.();
    }
  }
}

function settle(p: Pending, err: unknown, result?: ShellResult): void {
  if (p.settled) return;
  p.settled = true;
  clearTimeout(p.timer);
  if (p.onAbort) p.job.signal?.removeEventListener('abort', p.onAbort);
  if (err === undefined) p.resolve(result!);
  else p.reject(err);
}

function jobError(job: ShellJob, why: string, code: status): KernelCommandError {
  return new KernelCommandError({ command: job.what, stderr: why, netns: job.netns, code });
}

/** A few shells; a namespace's jobs always go to the same one. */
export class ShellLauncher {
  private readonly shells: (Shell | undefined)[];
  private closed = false;

  constructor(private readonly opts: ShellOptions) {
    this.shells = new Array(Math.max(1, opts.shells)).fill(undefined);
  }

  run(job: ShellJob): Promise<ShellResult> {
    return new Promise<ShellResult>((resolve, reject) => {
      const p: Pending = { job, resolve, reject };
      if (job.signal?.aborted) {
        settle(p, jobError(job, 'aborted', status.CANCELLED));
        return;
      }
      this.shellFor(job.netns).add(p);
    });
  }

  close(): void {
    this.closed = true;
    for (const s of this.shells) s?.stop();
  }

  private shellFor(netns: string | null): Shell {
    const i = hash(netns ?? '') % this.shells.length;
    const have = this.shells[i];
    if (have && !have.dead && !have.retiring) return have;
    const s = new Shell(this.opts, (gone, orphans) => {
      if (this.shells[i] === gone) this.shells[i] = undefined;
      for (const p of orphans) {
        if (p.settled) continue;
        if (this.closed) settle(p, jobError(p.job, 'ip runner is closed', status.FAILED_PRECONDITION));
        else this.shellFor(p.job.netns).add(p);
      }
    });
    this.shells[i] = s;
    return s;
  }
}

/** FNV-1a: a stable spread of namespace paths over the shells. */
function hash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}
