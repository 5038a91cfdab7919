// One verdict for every element that enforces the policy (the nsmgr's Request, the registry's
// Register): given who is calling (identity.ts) and what it asks for, pass or throw
// PERMISSION_DENIED naming the identity and the service or name.
//
// The policy needs identities. When the daemon itself has none (insecure mode) no caller can have a
// proven one, so the policy cannot apply: it is not enforced, and that is logged once, at warn level,
// per daemon (README, Authorization policy). In-process calls (expiry, heal re-entering the chain)
// are not checked.
import { status } from '@grpc/grpc-js';
import { NsmError } from '../../errors/index.js';
import { logger } from '../log.js';
import { ACTION_WORDS, type Action } from './common.js';
import type { Caller } from './identity.js';
import type { PolicySource } from './source.js';

const log = logger('authzpolicy');

export interface Enforcement {
  readonly source: PolicySource;
  /** Whether this daemon has an identity (looked up per call: mains set it up after chains are built). */
  readonly hasIdentity: () => boolean;
  /** Set once the "not enforced" warning was logged. */
  warned: boolean;
}

export function newEnforcement(source: PolicySource, hasIdentity: () => boolean): Enforcement {
  return { source, hasIdentity, warned: false };
}

/** Throws PERMISSION_DENIED unless `caller` may do `action` on each of `names`. */
export function checkAllowed(e: Enforcement, caller: Caller, action: Action, names: readonly string[]): void {
  if (caller.kind === 'in-process') return;
  if (!e.hasIdentity()) {
    if (!e.warned) {
      e.warned = true;
      log.warn(
        { path: e.source.path },
        'authorization policy NOT ENFORCED: this daemon has no identity (insecure mode), so no caller has a proven SPIFFE ID',
      );
    }
    return;
  }
  const what = (name: string) => `failed to ${ACTION_WORDS[action]} "${name.slice(0, 256)}"`;
  for (const name of names) {
    if (caller.kind === 'unknown') {
      throw new NsmError(
        status.PERMISSION_DENIED,
        `${what(name)}: the caller has no proven SPIFFE ID (${caller.why}); the authorization policy ${e.source.path} allows only identities`,
      );
    }
    if (!e.source.current().allows(caller.spiffeId, action, name)) {
      throw new NsmError(
        status.PERMISSION_DENIED,
        `${what(name)}: ${caller.spiffeId} is not allowed to by the authorization policy ${e.source.path}`,
      );
    }
  }
}
