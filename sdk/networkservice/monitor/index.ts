export { matchesSelector } from './common.js';
export { ConnectionMonitor } from './monitor.js';
export { newServer } from './server.js';
