export { newClient, RETRY_INTERVAL_MS, type RefreshOptions, refreshDelay } from './client.js';
