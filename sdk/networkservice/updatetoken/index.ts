export {
  DEFAULT_MAX_TOKEN_LIFETIME_MS,
  newClient,
  newServer,
  plainToken,
  type TokenOptions,
} from './server.js';
