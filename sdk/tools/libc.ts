// This process's C library through koffi, for the few calls Node has no API for (malloc_trim in
// heap/trim.ts; setns, socket, send and recv for rtnetlink in kernel/netlink). koffi is a maintained
// FFI library whose npm package carries prebuilt binaries for every platform we run on; Node has no
// FFI of its own.
import { createRequire } from 'node:module';

export type Koffi = typeof import('koffi');

export interface Libc {
  readonly koffi: Koffi;
  readonly lib: ReturnType<Koffi['load']>;
}

let loaded: Libc | undefined;

/** glibc loaded once; throws (with koffi's reason) where it cannot be, for the caller to fall back. */
export function libc(): Libc {
  if (loaded) return loaded;
  // koffi is CommonJS with a native part: required, not imported, so a platform without its binary
  // fails here (where the caller catches it) rather than when this module is imported.
  const koffi = createRequire(import.meta.url)('koffi') as Koffi;
  loaded = { koffi, lib: koffi.load('libc.so.6') };
  return loaded;
}
