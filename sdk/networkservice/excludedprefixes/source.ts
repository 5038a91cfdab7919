// The nsmgr's excluded prefixes, read from a YAML file and read again when it changes (in clusters a
// sidecar rewrites it with the pod and service CIDRs). The file is polled by stat, not watched by
// inotify: it may not exist yet, and writers replace it by rename, which an inotify watch on the old
// inode would not see. The stat a change is detected against is taken right before the file is read,
// so a change between the two is never missed.
import { readFileSync, statSync } from 'node:fs';
import { getErrorMessage } from '../../errors/index.js';
import { logger } from '../../tools/log.js';
import { parsePrefixesFile } from './common.js';

const log = logger('excludedprefixes');

/** Upstream's path (cmd-nsmgr). */
export const DEFAULT_EXCLUDED_PREFIXES_FILE = '/var/lib/networkservicemesh/config/excluded_prefixes.yaml';
/** How often the file is checked for changes. */
export const DEFAULT_POLL_MS = 1000;

/** The prefixes every IPAM must avoid. Contract: `current()` never throws; after `close()` it keeps the last list. */
export interface PrefixSource {
  current(): readonly string[];
  close(): void;
}

export interface FilePrefixSourceOptions {
  readonly path?: string;
  readonly pollMs?: number;
  /** Called after every successful reload that changed the list (tests wait on it). */
  readonly onChange?: (prefixes: readonly string[]) => void;
}

/** A fixed list (tests, and nsmgrs configured without a file). */
export function staticPrefixes(prefixes: readonly string[]): PrefixSource {
  const list = [...prefixes];
  return { current: () => list, close: () => {} };
}

/**
 * Reads the file now and whenever its mtime or size changes. A missing file means no prefixes; a file
 * that does not parse keeps the previous list (logged), so a half-written file never opens the ranges.
 */
export function newFilePrefixSource(opts: FilePrefixSourceOptions = {}): PrefixSource {
  const path = opts.path ?? DEFAULT_EXCLUDED_PREFIXES_FILE;
  let list: readonly string[] = [];
  let seen = '';
  const signature = () => {
    try {
      const st = statSync(path);
      return `${st.ino}:${st.size}:${st.mtimeMs}`;
    } catch {
      return 'missing';
    }
  };
  const load = () => {
    seen = signature();
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT')
        log.warn({ path, err: getErrorMessage(e) }, 'cannot read');
      text = '';
    }
    try {
      const next = parsePrefixesFile(text, path);
      if (next.join(',') === list.join(',')) return;
      list = next;
      log.info({ path, prefixes: list }, 'excluded prefixes loaded');
      opts.onChange?.(list);
    } catch (e) {
      log.warn({ path, err: getErrorMessage(e) }, 'keeping the previous excluded prefixes');
    }
  };
  load();
  // Unreferenced: a background poll must not keep a daemon alive on its own.
  const timer = setInterval(() => {
    if (signature() !== seen) load();
  }, opts.pollMs ?? DEFAULT_POLL_MS).unref();
  return {
    current: () => list,
    close: () => clearInterval(timer),
  };
}
