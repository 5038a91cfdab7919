export { type NetnsOwnerOptions, namespacesNamed, newServer } from './server.js';
