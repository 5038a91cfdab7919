// Gives the heap of a burst back to the OS once the daemon is quiet again, seconds sooner than V8
// does by itself.
//
// Why: closing 1000 connections frees most of the heap they used, but V8 keeps the pages (its old
// space stays fragmented: live objects are spread over them) until its memory reducer compacts
// them. The reducer waits for a low allocation rate and then checks again only every 8 s (a
// constant, not a flag), so the nsmgr and the forwarder held 10-15 MiB of empty heap each for
// 10-20 s after a burst of closes (issue 15 item 4: RSS after closing all ≤ 1.1× idle).
//
// What: once a second, if the event loop was nearly idle over that second and either the heap holds
// much more than it uses or a busy second came since the last compaction (a burst just ended: its
// garbage still counts as used until a full GC marks it, so the first test alone waited for V8's
// own GC, 8+ s after 1000 closes in the nodeagent), run full GCs until the heap stops shrinking (at
// most three). The first marks
// (and frees the pages left empty); the next ones let V8 move the survivors off the pages they
// hardly use, its own choice a few MB at a time, so resident memory only goes down on the way (a GC
// that moves every live object at once first needs as much again). They run incrementally
// (`execution: 'async'`): the event loop stops only for the final pauses, tens of ms. Then
// malloc_trim (trim.ts) gives back what the burst left free in glibc's heap, which no GC touches.
// A busy daemon is never collected; a quiet one at most every `minGapMs`.
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { mallocTrim } from './trim.js';

export interface HeapCompactorOptions {
  /** How often to look (default 1000 ms). */
  intervalMs?: number;
  /** Busiest event loop (fraction of the last interval) that still counts as quiet (default 0.05). */
  maxUtilization?: number;
  /** Least unused heap worth a GC, in bytes (default 8 MiB)... */
  minSlackBytes?: number;
  /** ...and as a fraction of the heap in use (default 0.25): a big live heap keeps its headroom. */
  minSlackFraction?: number;
  /** Least time between two compactions (default 10 s). */
  minGapMs?: number;
  /** Tests: the heap's used and total bytes (default v8.getHeapStatistics). */
  heap?: () => { used: number; total: number };
  /** Tests: the event loop's utilization since the previous call (default performance.eventLoopUtilization). */
  utilization?: () => number;
  /** Tests: the compacting GCs (default compactAndTrim). */
  compact?: () => Promise<void>;
  /** Tests: the clock (default performance.now). */
  now?: () => number;
  /** Told after each compaction: heap bytes before and after, and how long it took. */
  onCompacted?: (r: { beforeBytes: number; afterBytes: number; ms: number }) => void;
}

export interface HeapCompactor {
  /** Looks once (the timer calls this); returns whether it started compacting. */
  check(): boolean;
  /** Stops the timer. */
  stop(): void;
}

const MiB = 1024 * 1024;

/** Starts looking every `intervalMs` (an unref'd timer: it never keeps the process alive). */
export function startHeapCompactor(opts: HeapCompactorOptions = {}): HeapCompactor {
  const maxUtilization = opts.maxUtilization ?? 0.05;
  const minSlackBytes = opts.minSlackBytes ?? 8 * MiB;
  const minSlackFraction = opts.minSlackFraction ?? 0.25;
  const minGapMs = opts.minGapMs ?? 10_000;
  const heap = opts.heap ?? heapStats;
  const utilization = opts.utilization ?? loopUtilization();
  const compact = opts.compact ?? compactAndTrim;
  const now = opts.now ?? (() => performance.now());
  let last = Number.NEGATIVE_INFINITY;
  let running = false;
  let burstEnded = false;

  const check = (): boolean => {
    // Read every time, so each reading covers one interval.
    const busy = utilization() > maxUtilization;
    if (busy) burstEnded = true; // ...once a quiet interval follows
    if (busy || running || now() - last < minGapMs) return false;
    const { used, total } = heap();
    if (!burstEnded && total - used < Math.max(minSlackBytes, used * minSlackFraction)) return false;
    last = now();
    running = true;
    burstEnded = false;
    compact()
      .then(() => opts.onCompacted?.({ beforeBytes: total, afterBytes: heap().total, ms: now() - last }))
      .catch(() => {}) // a GC that could not run leaves things as they were
      .finally(() => {
        running = false;
      });
    return true;
  };
  const timer = setInterval(check, opts.intervalMs ?? 1000);
  timer.unref();
  return { check, stop: () => clearInterval(timer) };
}

function heapStats(): { used: number; total: number } {
  const s = v8.getHeapStatistics();
  return { used: s.used_heap_size, total: s.total_heap_size };
}

/** A function returning the event loop's utilization since its previous call. */
function loopUtilization(): () => number {
  let prev = performance.eventLoopUtilization();
  return () => {
    const cur = performance.eventLoopUtilization();
    const u = performance.eventLoopUtilization(cur, prev).utilization;
    prev = cur;
    return u;
  };
}

/** compactingGc, then glibc's free pages go back to the OS too (trim.ts). */
export async function compactAndTrim(): Promise<void> {
  await compactingGc();
  mallocTrim().trim?.();
}

type GcFn = (opts: { type: 'major'; execution: 'async' }) => Promise<void>;
let gcFn: GcFn | undefined;
const MAX_GCS = 3;

/**
 * Full GCs until the heap stops shrinking by at least 1 MiB (at most three; see the top). The `gc`
 * function exists only with `--expose-gc`: setting that flag at run time makes a new context get
 * one, and it is unset after (the daemon's own globals never see `gc`).
 */
export async function compactingGc(): Promise<void> {
  if (!gcFn) {
    v8.setFlagsFromString('--expose-gc');
    gcFn = runInNewContext('gc') as GcFn;
    v8.setFlagsFromString('--no-expose-gc');
  }
  let total = v8.getHeapStatistics().total_heap_size;
  for (let i = 0; i < MAX_GCS; i++) {
    await gcFn({ type: 'major', execution: 'async' });
    const after = v8.getHeapStatistics().total_heap_size;
    // The first GC may free little: it is the one that measures how full each page is.
    if (i > 0 && total - after < MiB) return;
    total = after;
  }
}
