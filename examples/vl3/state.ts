// The replica's member table on disk (NSM_STATE_FILE): which member (originating segment id) holds
// which address of the slice. A replica restarted under the same name gets its slice back from
// vl3-ipam and this table from disk, so members coming back (healed or refreshed) get their own
// addresses and newcomers get none of them. Written by rename, so a crash never leaves half a file.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { getErrorMessage } from '../../sdk/errors/index.js';
import { logger } from '../../sdk/tools/log.js';

const log = logger('vl3');
/** Writes are batched this long (a burst of joins is one write). */
const SAVE_DELAY_MS = 50;

export interface SavedState {
  readonly slice: string;
  readonly members: Record<string, string>;
}

export function loadState(path: string): SavedState | undefined {
  try {
    const s = JSON.parse(readFileSync(path, 'utf8')) as SavedState;
    return typeof s.slice === 'string' && typeof s.members === 'object' ? s : undefined;
  } catch {
    return undefined;
  }
}

/** A saver that writes `get()` to `path` shortly after each `schedule()`, and at `flush()`. */
export function stateSaver(path: string, get: () => SavedState): { schedule(): void; flush(): void } {
  let timer: NodeJS.Timeout | undefined;
  const flush = () => {
    clearTimeout(timer);
    timer = undefined;
    try {
      writeFileSync(`${path}.tmp`, JSON.stringify(get()));
      renameSync(`${path}.tmp`, path);
    } catch (e) {
      log.warn({ path, err: getErrorMessage(e) }, 'cannot save the member table');
    }
  };
  return {
    schedule: () => {
      timer ??= setTimeout(flush, SAVE_DELAY_MS);
    },
    flush,
  };
}
