export { newServer, statsMetrics } from './server.js';
