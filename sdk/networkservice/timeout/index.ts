export { expiryOf, newServer } from './server.js';
