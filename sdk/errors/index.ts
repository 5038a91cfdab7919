export * from './nsm-error.js';
