export { newNseServer, newNsServer } from './server.js';
