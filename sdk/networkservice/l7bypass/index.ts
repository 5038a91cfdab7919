export { AUTO_RECHECK_MS, type BypassPolicy, type L7BypassClientOptions, newClient } from './client.js';
export {
  bypassRule,
  type Family,
  families,
  hasRedirect,
  L7_BYPASS,
  L7_CAPTURE,
  L7_LABEL,
  type L7Mode,
  parseL7Mode,
  RULE_COMMENT_PREFIX,
} from './common.js';
export { type Iptables, newIptables } from './iptables.js';
