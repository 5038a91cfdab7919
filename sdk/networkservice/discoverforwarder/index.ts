export { type DiscoverForwarderOptions, FORWARDER_SERVICE_NAME, newServer } from './server.js';
