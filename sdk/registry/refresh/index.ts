export {
  INITIAL_RETRY_BACKOFF_MS,
  type KeepRegisteredOptions,
  keepRegistered,
  MAX_RETRY_BACKOFF_MS,
  type Registration,
  refreshIn,
} from './client.js';
