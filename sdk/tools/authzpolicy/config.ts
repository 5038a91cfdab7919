// The setting nsmgr and registry spread into their schemas, and how a daemon opens it: a file that
// cannot be read or parsed at start stops the daemon with one line naming the variable, the file,
// the line and the field (runDaemon prints ConfigErrors so, exit 2).
import { getErrorMessage } from '../../errors/index.js';
import { ConfigError } from '../config/config-error.js';
import { t } from '../config/types.js';
import { openPolicyFile, type PolicySource } from './source.js';

export const authzPolicySchema = {
  authzPolicyFile: t.string({
    env: 'NSM_AUTHZ_POLICY_FILE',
    description:
      'YAML authorization policy (README, Authorization policy), read again on change: who may request and register what. Unset: all allowed; insecure mode: not enforced.',
  }),
};

/** The policy file's source, or undefined when none is set; throws a ConfigError at start. */
export function openAuthzPolicy(path: string | undefined, pollMs?: number): PolicySource | undefined {
  if (!path) return undefined;
  try {
    return openPolicyFile({ path, pollMs });
  } catch (e) {
    throw new ConfigError('NSM_AUTHZ_POLICY_FILE', getErrorMessage(e));
  }
}
