/** The renderer lives with the runtime code that scripts/stack.mjs imports; tests use the same one. */
export * from '../../runtime/prometheus-config.js';
