// Gives glibc's free memory back to the OS: malloc_trim(0), called after a quiet-time compaction.
//
// Why: with the tunables of malloc.ts, freed blocks at the top of an arena go back by themselves,
// but a burst leaves the main arena fragmented: free chunks between live ones, whole pages of them,
// which glibc keeps. After closing 1100 connections the nodeagent held 4-5 MiB of those (RSS after
// closing all ÷ idle 1.10-1.14, issue 15's target ≤ 1.1); malloc_trim(0) hands every free page back
// (madvise DONTNEED), not only the top. No tunable does this: glibc trims only the top of a heap.
// Measured (bench scale part, 4 runs): the nodeagent's [heap] went from 11 to 6 MiB at the
// compaction after the closes, and the ratio to 1.06-1.09; loading koffi did not move idle RSS.
//
// How: libc's malloc_trim through koffi (../libc.ts). Where libc is not glibc (musl has no
// malloc_trim) or koffi cannot load, trimming is off and says so once.
import { getErrorMessage } from '../../errors/index.js';
import { libc } from '../libc.js';

export interface MallocTrim {
  /** Hands free malloc memory back to the OS; returns whether any was. Absent: no malloc_trim here. */
  trim?: () => boolean;
  /** Why there is no `trim`. */
  problem?: string;
}

let loaded: MallocTrim | undefined;

/** malloc_trim(0) of this process's libc, or why there is none here. Loaded once. */
export function mallocTrim(): MallocTrim {
  if (loaded) return loaded;
  try {
    const fn = libc().lib.func('int malloc_trim(size_t pad)');
    loaded = { trim: () => fn(0) === 1 };
  } catch (e) {
    loaded = { problem: `malloc_trim unavailable: ${getErrorMessage(e)}` };
  }
  return loaded;
}
