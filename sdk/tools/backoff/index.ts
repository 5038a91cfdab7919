export {
  type Backoff,
  type BackoffFactory,
  type CappedDoublingOptions,
  cappedDoubling,
  constantBackoff,
  grpcReconnectOptions,
  INITIAL_BACKOFF_MS,
  MAX_BACKOFF_MS,
  MAX_GRPC_RECONNECT_BACKOFF_MS,
} from './backoff.js';
export { type LeaseTimerOptions, leaseTimer, STALL_THRESHOLD_MS } from './lease.js';
export { type RetryOptions, retry } from './retry.js';
export { type Delay, every, sleep } from './sleep.js';
