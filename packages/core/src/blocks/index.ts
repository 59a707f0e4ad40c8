export * from './conv-bn-relu.js';
