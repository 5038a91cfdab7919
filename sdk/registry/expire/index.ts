export { DEFAULT_EXPIRE_PERIOD_MS, type ExpireOptions, type ExpireServer, newNseServer } from './server.js';
