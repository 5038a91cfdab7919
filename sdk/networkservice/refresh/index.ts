export { newClient, RETRY_MS, refreshDelay } from './client.js';
