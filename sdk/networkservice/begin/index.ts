export { type EventFactory, fromContext } from './common.js';
export { type BeginOptions, defaultReselect, newClient, newServer } from './server.js';
