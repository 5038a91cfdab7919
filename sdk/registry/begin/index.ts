export { type EventFactory, fromContext } from './common.js';
export { EVENT_TIMEOUT_MS, newNseServer, newNsServer } from './server.js';
