export { type KeepRegisteredOptions, keepRegistered, type Registration } from './client.js';
