// Whether the process behind a unix socket URL is gone: connecting is refused (the socket file of a
// killed process stays, nobody listens on it) or the file is missing. A hung process still has its
// listen backlog, so it counts as there: a hang is repaired, not replaced.
import { connect } from 'node:net';

const GONE_ERRORS = new Set(['ECONNREFUSED', 'ENOENT']);
/** A listener that is there answers a local connect at once; this only bounds a pathological case. */
export const GONE_PROBE_TIMEOUT_MS = 200;

/** True when `url` is a unix:// URL nobody listens on any more; false for tcp:// and for a live or hung listener. */
export function unixListenerGone(url: string, timeoutMs = GONE_PROBE_TIMEOUT_MS): Promise<boolean> {
  if (!url.startsWith('unix://')) return Promise.resolve(false);
  return new Promise((resolve) => {
    const socket = connect({ path: url.slice('unix://'.length) });
    const done = (gone: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(gone);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.once('connect', () => done(false));
    socket.once('error', (e: NodeJS.ErrnoException) => done(GONE_ERRORS.has(e.code ?? '')));
  });
}
