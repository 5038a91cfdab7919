export {
  type DiscoverForwarderOptions,
  FORWARDER_SERVICE_NAME,
  LOOKUP_RETRY_MS,
  NO_FORWARDER_WAIT_MS,
  newServer,
} from './server.js';
