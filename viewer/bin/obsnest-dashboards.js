#!/usr/bin/env node
import { main } from '../dist/src/server/cli.js';

main(process.argv.slice(2)).catch((error) => {
  console.error(`obsnest-dashboards: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
