export { newClient, type XconnectClientOptions } from './client.js';
export { newServer, type XconnectOptions } from './server.js';
