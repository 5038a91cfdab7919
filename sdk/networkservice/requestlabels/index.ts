export { CLIENT_NAME_LABEL, NODE_NAME_LABEL, newServer, type RequestLabelsOptions } from './server.js';
