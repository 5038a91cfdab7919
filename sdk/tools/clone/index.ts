export { cloneShared } from './clone.js';
