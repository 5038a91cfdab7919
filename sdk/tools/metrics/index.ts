export * from './metrics.js';
export { type MetricsServer, serveMetrics } from './serve.js';
