export { load, loadAndDelete, map, store } from './metadata.js';
export { newServer } from './server.js';
