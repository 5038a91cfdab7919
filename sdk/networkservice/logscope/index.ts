export { newClient, newServer } from './server.js';
