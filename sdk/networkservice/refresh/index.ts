export {
  attemptTimeout,
  MIN_ATTEMPT_MS,
  newClient,
  RETRY_INTERVAL_MS,
  type RefreshOptions,
  refreshDelay,
} from './client.js';
