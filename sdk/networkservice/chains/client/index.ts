export { type ClientOptions, newClient } from './client.js';
