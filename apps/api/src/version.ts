import { readFileSync } from 'node:fs';

/** The API's version, from its package.json, for app_build_info and the start-up log. */
export const APP_VERSION: string = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string })
  .version;
