export { newClient, newServer } from './client.js';
