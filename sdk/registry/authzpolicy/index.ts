export { type AuthzPolicyOptions, newNseServer, newNsServer } from './server.js';
