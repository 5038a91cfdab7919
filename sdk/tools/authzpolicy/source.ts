// The policy file, read at start and again when it changes, the way the nsmgr reads its excluded
// prefixes (excludedprefixes/source.ts): polled by stat (writers replace the file by rename, which an
// inotify watch on the old inode would miss), the stat taken right before the read.
//
// Fail closed: at start a missing or bad file is an error (the daemon does not start: it was told to
// enforce a policy it cannot read); later, a file that is missing or does not parse keeps the
// previous policy, logged in one line naming file, line and field, so a half-written file never
// opens anything up.
import { readFileSync, statSync } from 'node:fs';
import { getErrorMessage, invalidArgument } from '../../errors/index.js';
import { logger } from '../log.js';
import { type Policy, parsePolicy } from './common.js';

const log = logger('authzpolicy');

/** How often the file is checked for changes. */
export const DEFAULT_POLL_MS = 1000;

/** The policy in force. Contract: `current()` never throws; after `close()` it keeps the last policy. */
export interface PolicySource {
  readonly path: string;
  current(): Policy;
  close(): void;
}

export interface PolicyFileOptions {
  readonly path: string;
  readonly pollMs?: number;
  /** Called after every reload that took a new policy (tests wait on it). */
  readonly onChange?: (policy: Policy) => void;
}

function signature(path: string): string {
  try {
    const st = statSync(path);
    return `${st.ino}:${st.size}:${st.mtimeMs}`;
  } catch {
    return 'missing';
  }
}

function read(path: string): Policy {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw invalidArgument(`${path}: cannot read the policy file: ${getErrorMessage(e)}`);
  }
  return parsePolicy(text, path);
}

/** Reads the file now (throws INVALID_ARGUMENT when it cannot) and whenever it changes. */
export function openPolicyFile(opts: PolicyFileOptions): PolicySource {
  const { path } = opts;
  let seen = signature(path);
  let policy = read(path);
  log.info({ path, rules: policy.rules.length }, 'authorization policy loaded');
  const reload = () => {
    seen = signature(path);
    try {
      policy = read(path);
    } catch (e) {
      log.warn({ path, err: getErrorMessage(e) }, 'keeping the previous authorization policy');
      return;
    }
    log.info({ path, rules: policy.rules.length }, 'authorization policy reloaded');
    opts.onChange?.(policy);
  };
  // Unreferenced: a background poll must not keep a daemon alive on its own.
  const timer = setInterval(() => {
    if (signature(path) !== seen) reload();
  }, opts.pollMs ?? DEFAULT_POLL_MS).unref();
  return {
    path,
    current: () => policy,
    close: () => clearInterval(timer),
  };
}

/** A fixed policy (tests). */
export function staticPolicy(policy: Policy, path = '(static)'): PolicySource {
  return { path, current: () => policy, close: () => {} };
}
