export { type Endpoint, type EndpointOptions, newServer } from './server.js';
