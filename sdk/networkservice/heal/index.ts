export {
  DEFAULT_LIVENESS_INTERVAL_MS,
  DEFAULT_LIVENESS_TIMEOUT_MS,
  type HealOptions,
  newClient,
} from './client.js';
export { type Attempt, afterFailure, firstAttempt, waitBefore } from './common.js';
export { kernelLivenessCheck, LIVENESS_PORT, probeTcp } from './liveness.js';
