export { newServer, type StatsOptions, statsMetrics } from './server.js';
