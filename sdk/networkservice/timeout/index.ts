export { closeDelay, expiryOf, newServer } from './server.js';
