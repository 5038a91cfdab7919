export { newClient } from './client.js';
export { newServer } from './server.js';
