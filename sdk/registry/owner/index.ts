export { newNsServer } from './ns-server.js';
export { newNseServer } from './server.js';
