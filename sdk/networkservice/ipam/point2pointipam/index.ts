export { emptyIpContext, newServer } from './server.js';
