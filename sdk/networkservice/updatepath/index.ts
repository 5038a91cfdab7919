export { newClient } from './client.js';
export { updatePath } from './common.js';
export { newServer } from './server.js';
