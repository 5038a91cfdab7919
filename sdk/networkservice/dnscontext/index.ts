export { type DnsContextClientOptions, newClient } from './client.js';
export { type Forwarder, type ForwarderOptions, serversFor, startForwarder } from './forwarder.js';
export { parseResolvConf, renderResolvConf } from './resolv-conf.js';
export { type DnsContextServerOptions, newServer } from './server.js';
