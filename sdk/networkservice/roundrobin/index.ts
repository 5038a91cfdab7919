export { newServer, type SelectedEndpoint, selectedEndpoint } from './server.js';
