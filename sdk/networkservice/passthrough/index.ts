export { JOIN_POLL_MS, JOIN_WAIT_MS, newServer, type PassthroughOptions } from './server.js';
