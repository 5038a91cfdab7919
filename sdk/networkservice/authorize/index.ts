export { type AuthorizeOptions, checkPath, newServer } from './server.js';
