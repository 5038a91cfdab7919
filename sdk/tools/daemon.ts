// The common life of a binary: start it, stop it gracefully on SIGTERM/SIGINT (exit 0), and turn a
// failure to start into one line on stderr and exit code 1 (config errors exit 2 before this).
import { getErrorMessage } from '../errors/index.js';
import { logger } from './log.js';

export interface Stoppable {
  close(): Promise<void>;
}

/** A close() that does its work once; later calls wait for the same result. */
export function closeOnce(fn: () => Promise<void>): () => Promise<void> {
  let done: Promise<void> | undefined;
  return () => {
    done ??= fn();
    return done;
  };
}

export async function runDaemon(binary: string, start: () => Promise<Stoppable>): Promise<void> {
  const log = logger(binary);
  let daemon: Stoppable;
  try {
    daemon = await start();
  } catch (e) {
    log.error({ err: e }, `${binary} failed to start`);
    process.stderr.write(`${binary}: ${getErrorMessage(e)}\n`);
    process.exit(1);
  }
  let stopping = false;
  const stop = async (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping');
    await daemon.close().catch((e: unknown) => log.warn({ err: e }, 'clean shutdown failed'));
    process.exit(0);
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}
