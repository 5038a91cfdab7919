export { type AuthzPolicyOptions, newServer } from './server.js';
