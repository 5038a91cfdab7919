export { matchesSelector } from './common.js';
export { ConnectionMonitor } from './monitor.js';
export { newRelay } from './relay.js';
export { newServer } from './server.js';
