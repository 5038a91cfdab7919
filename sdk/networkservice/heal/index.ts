export {
  DEFAULT_LIVENESS_INTERVAL_MS,
  DEFAULT_LIVENESS_TIMEOUT_MS,
  DEFAULT_REPAIR_WINDOW_MS,
  type HealOptions,
  newClient,
} from './client.js';
export { type Attempt, afterFailure, firstAttempt, REBUILD, REPAIR, RESELECT, waitBefore } from './common.js';
export { kernelLivenessCheck, LIVENESS_PORT, probeTcp } from './liveness.js';
