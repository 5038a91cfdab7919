export { type EventFactory, fromContext, isReselectClose } from './common.js';
export { type BeginOptions, defaultReselect, newClient, newServer } from './server.js';
