// A fake IpRunner for unit tests: records every batch and query, answers queries with canned JSON and
// fails chosen commands the way iproute2 would (KernelCommandError naming the command).
import { status } from '@grpc/grpc-js';
import { NsmError } from '../errors/index.js';
import type { BatchOptions, IpRunner, NetnsRef, RunOptions } from './iproute2.js';
import { KernelCommandError } from './kernel-command-error.js';

export interface RecordedBatch {
  /** The namespace path, or null for the caller's own namespace. */
  readonly netns: string | null;
  readonly commands: readonly string[];
  readonly force: boolean;
  /** Set only for `ip -6` batches. */
  readonly family?: 6;
}

export interface RecordedQuery {
  readonly netns: string | null;
  readonly args: readonly string[];
}

export interface RecordingIpRunner extends IpRunner {
  readonly batches: RecordedBatch[];
  readonly queries: RecordedQuery[];
  /** All batch lines in order, flattened; handy for "was X ever run". */
  commands(): string[];
  /**
   * Answer `json` queries whose args joined by spaces equal `args` (e.g. "-d link show") with `value`,
   * optionally only in one namespace (path, or null for the caller's). Unmatched queries return [].
   */
  setJson(args: string, value: unknown, netns?: string | null): void;
  /**
   * Make the next `times` (default: every) batch lines matching `match` fail with `stderr`; the batch
   * stops there unless it was run with `force`.
   */
  failOn(match: string | RegExp, stderr?: string, times?: number): void;
  reset(): void;
}

interface Failure {
  match: string | RegExp;
  stderr: string;
  remaining: number;
}

export function newRecordingIpRunner(): RecordingIpRunner {
  const batches: RecordedBatch[] = [];
  const queries: RecordedQuery[] = [];
  const canned: { args: string; netns: string | null | undefined; value: unknown }[] = [];
  const failures: Failure[] = [];
  let closed = false;

  const checkOpen = () => {
    if (closed) throw new NsmError(status.FAILED_PRECONDITION, 'ip runner is closed');
  };
  const failureFor = (command: string): Failure | undefined =>
    failures.find(
      (f) =>
        f.remaining > 0 && (typeof f.match === 'string' ? command.includes(f.match) : f.match.test(command)),
    );

  return {
    batches,
    queries,
    commands: () => batches.flatMap((b) => b.commands),
    async batch(netns: NetnsRef | null, commands: readonly string[], opts: BatchOptions = {}): Promise<void> {
      checkOpen();
      if (commands.length === 0) return;
      const where = netns?.path ?? null;
      batches.push({
        netns: where,
        commands: [...commands],
        force: opts.force ?? false,
        ...(opts.family ? { family: opts.family } : {}),
      });
      let first: KernelCommandError | undefined;
      for (const command of commands) {
        const f = failureFor(command);
        if (!f) continue;
        f.remaining--;
        first ??= new KernelCommandError({ command, stderr: f.stderr, netns: where });
        if (!opts.force) break;
      }
      if (first) throw first;
    },
    async json<T>(netns: NetnsRef | null, args: readonly string[], _opts?: RunOptions): Promise<T> {
      checkOpen();
      const where = netns?.path ?? null;
      queries.push({ netns: where, args: [...args] });
      const key = args.join(' ');
      const hit = [...canned]
        .reverse()
        .find((c) => c.args === key && (c.netns === undefined || c.netns === where));
      return structuredClone(hit ? hit.value : []) as T;
    },
    async close(): Promise<void> {
      closed = true;
    },
    setJson(args: string, value: unknown, netns?: string | null): void {
      canned.push({ args, netns, value });
    },
    failOn(
      match: string | RegExp,
      stderr = 'RTNETLINK answers: Operation not supported',
      times = Infinity,
    ): void {
      failures.push({ match, stderr, remaining: times });
    },
    reset(): void {
      batches.length = 0;
      queries.length = 0;
      canned.length = 0;
      failures.length = 0;
      closed = false;
    },
  };
}
