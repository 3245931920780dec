import { writeFileSync } from 'node:fs';
import { renderEnvExample } from './env-example.js';

/** `npm run env:example`: rewrites the root .env.example from the schema. */
const target = new URL('../../../../../.env.example', import.meta.url);
writeFileSync(target, renderEnvExample());
console.log(`wrote ${target.pathname}`);
