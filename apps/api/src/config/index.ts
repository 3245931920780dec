/** `@obsnest/api/config`: the API's variables, for the tools around it (the stack runner, the docs). */
export { ConfigError, type Config, loadConfig } from './config.js';
export { CATEGORIES, type Category, type Consumer, ENV, type EnvName, type Requirement, type VariableSpec } from './schema.js';
