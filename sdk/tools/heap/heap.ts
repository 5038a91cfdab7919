// V8 garbage-collector settings for the daemons, applied by runDaemon at start so that every way of
// starting them gets them (the sandbox, the demo, the Kubernetes manifests, a user typing `node
// dist/nsmgr/main.js`), not only launchers that remember a command-line flag.
//
// Why: a daemon's resident memory is mostly garbage V8 has not collected yet, not live state. With
// 1000 connections the nsmgr's live heap is about 40 MB, but closing them all at once let old space
// grow to 100 MB before a full GC (V8 lets the heap grow to a multiple of the live size, up to 4×,
// between full GCs), and the freed heap went back to the OS only ~8 s after the burst, when V8's
// memory reducer starts. The bench (scale part) measures both: VmHWM at 1000 connections, and RSS a
// few seconds after closing all.
//  - `--heap-growing-percent`: the next full GC comes when old space is this much larger than what the
//    last one left, so the peak stays near the live size (more, cheaper full GCs: the live heap is small);
//  - `--gc-memory-reducer-start-delay-ms`: after activity stops, give memory back after 2 s, not 8 s.
// The young generation stays as the command line sets it (`--max-semi-space-size=1` in the manifests,
// the sandbox and the README): it is sized when the heap is made, so it cannot be set from here.
//
// Both flags are read at each GC, so setting them after start takes effect (v8.setFlagsFromString); a
// flag given on the command line or in NODE_OPTIONS wins over ours.
import v8 from 'node:v8';

/** The flags, by name; a value here is what the daemons get unless the command line sets it. */
export const HEAP_FLAGS: Readonly<Record<string, string>> = {
  'heap-growing-percent': '20',
  'gc-memory-reducer-start-delay-ms': '2000',
};

export interface TuneHeapOptions {
  /** Flags the process was started with (default: process.execArgv and NODE_OPTIONS). */
  given?: readonly string[];
  /** Defaults to v8.setFlagsFromString; tests pass a recorder. */
  setFlags?: (flags: string) => void;
}

/** Sets HEAP_FLAGS not already given; returns the flags it set. */
export function tuneHeap(opts: TuneHeapOptions = {}): string[] {
  const given = opts.given ?? [
    ...process.execArgv,
    ...(process.env.NODE_OPTIONS ?? '').split(/\s+/).filter(Boolean),
  ];
  const setFlags = opts.setFlags ?? ((f: string) => v8.setFlagsFromString(f));
  const set: string[] = [];
  for (const [name, value] of Object.entries(HEAP_FLAGS)) {
    // V8 accepts both spellings of a flag name (dashes or underscores), with or without a value.
    const spellings = [name, name.replaceAll('-', '_')].map((n) => `--${n}`);
    if (given.some((g) => spellings.some((s) => g === s || g.startsWith(`${s}=`)))) continue;
    const flag = `--${name}=${value}`;
    setFlags(flag);
    set.push(flag);
  }
  return set;
}
