export { type MetricsOptions, newServer } from './server.js';
