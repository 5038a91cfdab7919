export {
  ACTION_WORDS,
  ACTIONS,
  type Action,
  globToRegExp,
  newPolicy,
  type Policy,
  parsePolicy,
  type Rule,
} from './common.js';
export { authzPolicySchema, openAuthzPolicy } from './config.js';
export { checkAllowed, type Enforcement, newEnforcement } from './enforce.js';
export { type Caller, callerOf } from './identity.js';
export {
  DEFAULT_POLL_MS,
  openPolicyFile,
  type PolicyFileOptions,
  type PolicySource,
  staticPolicy,
} from './source.js';
