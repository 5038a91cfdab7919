export { matchesSelector } from './common.js';
export { ConnectionMonitor } from './monitor.js';
export { newRelay, type Relay } from './relay.js';
export { newServer } from './server.js';
