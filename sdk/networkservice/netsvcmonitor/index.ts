export { mustMove, type Tracked } from './common.js';
export {
  EVALUATE_DELAY_MS,
  type NetSvcMonitor,
  type NetSvcMonitorOptions,
  newNetSvcMonitor,
  WATCH_LINGER_MS,
} from './server.js';
