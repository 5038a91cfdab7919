export { type AllowPeerOptions, newServer } from './server.js';
