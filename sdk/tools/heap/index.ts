export { HEAP_FLAGS, type TuneHeapOptions, tuneHeap } from './heap.js';
