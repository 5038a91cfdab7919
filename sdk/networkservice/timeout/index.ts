export { closeDelay, expiryOf, MAX_HOLD_LIFETIMES, newServer, type TimeoutOptions } from './server.js';
