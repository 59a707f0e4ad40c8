export * from './data/index.js';
export * from './text/index.js';
