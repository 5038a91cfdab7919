export { newServer, type RoundRobinOptions } from './server.js';
