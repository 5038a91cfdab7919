// glibc malloc settings for the daemons' processes. Unlike the V8 flags (heap.ts) they cannot be set
// from inside: glibc reads GLIBC_TUNABLES once, when the process starts. So every launcher we ship
// sets this same value: the sandbox (and through it the bench and the tests), the image (Dockerfile
// ENV and `npm run image`), and the README's commands. heap.test.ts checks that they agree.
//
// Why: after closing 1100 connections the nsmgr held ~12 MiB more native memory than at idle (its
// anonymous memory outside V8's heap went from 6.5 to 19 MiB) though nothing used it: freed malloc
// memory that glibc keeps. Measured in the scale part with the compactor on (same session, load
// ~10): RSS after closing all ÷ idle 1.14 without these settings, 1.04 with them.
//  - arena_max=2: each thread that mallocs (V8's compiler and GC workers, libuv's pool) otherwise
//    gets an arena of its own (up to 8 per core), each keeping its own freed memory;
//  - mmap_threshold=128 KiB, fixed: glibc otherwise raises it after a large block is freed, so later
//    large buffers (a 7 MB MonitorConnections answer) come from an arena and stay there after free;
//  - trim_threshold=128 KiB: free memory at the top of an arena goes back to the OS sooner.
/** The value of GLIBC_TUNABLES the daemons are started with. */
export const MALLOC_TUNABLES =
  'glibc.malloc.arena_max=2:glibc.malloc.mmap_threshold=131072:glibc.malloc.trim_threshold=131072';
