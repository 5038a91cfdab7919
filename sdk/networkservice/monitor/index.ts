export { matchesSelector } from './common.js';
export { GONE_PROBE_TIMEOUT_MS, unixListenerGone } from './gone.js';
export { ConnectionMonitor, type Visible } from './monitor.js';
export { newRelay, type Relay, type RelayOptions, STREAM_LINGER_MS } from './relay.js';
export { newServer } from './server.js';
