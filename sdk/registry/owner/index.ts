export { newNseServer } from './server.js';
