export { type DnsContextServerOptions, newServer } from './server.js';
