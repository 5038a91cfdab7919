// Whether the process behind a unix socket URL is gone: connecting is refused (the socket file of a
// killed process stays, nobody listens on it) or the file is missing. A hung process still has its
// listen backlog, so it counts as there: a hang is repaired, not replaced.
// A process being killed closes its sockets one after another: a probe sent when its stream broke
// can still land in the backlog of its listener, whose close then resets it (ECONNRESET, within a
// millisecond). Without waiting for that, one probe in four said "there" for a killed endpoint, and
// its clients repaired a dead path (~300 ms) before they heard of the reselect. A live listener
// never resets a connection that sent nothing: it keeps it, or closes it (end of file).
import { connect } from 'node:net';

const GONE_ERRORS = new Set(['ECONNREFUSED', 'ENOENT']);
/** A listener that is there answers a local connect at once; this only bounds a pathological case. */
export const GONE_PROBE_TIMEOUT_MS = 200;
/** How long a connected probe waits for the reset of a listener that is closing. */
export const GONE_SETTLE_MS = 30;

/** True when `url` is a unix:// URL nobody listens on any more; false for tcp:// and for a live or hung listener. */
export function unixListenerGone(
  url: string,
  timeoutMs = GONE_PROBE_TIMEOUT_MS,
  settleMs = GONE_SETTLE_MS,
): Promise<boolean> {
  if (!url.startsWith('unix://')) return Promise.resolve(false);
  return new Promise((resolve) => {
    const socket = connect({ path: url.slice('unix://'.length) });
    let connected = false;
    let timer: NodeJS.Timeout;
    const done = (gone: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(gone);
    };
    timer = setTimeout(() => done(false), timeoutMs);
    socket.once('connect', () => {
      connected = true;
      clearTimeout(timer);
      timer = setTimeout(() => done(false), settleMs);
    });
    socket.once('end', () => done(false));
    socket.once('error', (e: NodeJS.ErrnoException) =>
      done(connected ? e.code === 'ECONNRESET' : GONE_ERRORS.has(e.code ?? '')),
    );
  });
}
