export { newServer } from './server.js';
