export * from './chromium.js';
export * from './panels.js';
