// @ts-check
// The configuration reference from its two sources, the API's schema (`@obsnest/api/config`) and
// the stack's (scripts/stack/schema.mjs): `.env.example` is rendered here, and the tests check
// DEPLOYMENT.md's tables against the same rows field by field.
//   node scripts/env-reference.mjs           rewrite .env.example (npm run env:example)
//   node scripts/env-reference.mjs --check   exit 1 when .env.example differs from the schemas
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { STACK_CATEGORIES, STACK_ENV } from './stack/schema.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const ENV_EXAMPLE = join(root, '.env.example');

/**
 * @typedef {object} Spec
 * @property {string} category
 * @property {'required' | 'optional' | 'recommended'} requirement
 * @property {string} description
 * @property {readonly string[]} usedBy
 * @property {string} [example]
 * @property {boolean} [secret]
 * @property {string} [howToGenerate]
 * @property {boolean} [environmentOnly]
 * @property {{ safeParse(v: unknown): { success: boolean, data?: unknown } }} schema
 */

/**
 * @typedef {object} Section
 * @property {string} title
 * @property {string} source the file that defines the variables
 * @property {readonly string[]} categories
 * @property {Record<string, Spec>} variables
 */

/** Both schemas, the API's first. @returns {Promise<Section[]>} */
export async function loadSections() {
  const api = await import('@obsnest/api/config');
  return [
    { title: 'API', source: 'apps/api/src/config/schema.ts', categories: api.CATEGORIES, variables: api.ENV },
    { title: 'Stack and compose', source: 'scripts/stack/schema.mjs', categories: STACK_CATEGORIES, variables: STACK_ENV },
  ];
}

/** The default a variable gets when unset, as text, or undefined when it has none. @param {Spec} spec */
export function defaultOf(spec) {
  const result = spec.schema.safeParse(undefined);
  if (!result.success || result.data === undefined) return undefined;
  const value = result.data;
  if (Array.isArray(value)) return value.length ? value.join(',') : undefined;
  return String(value);
}

/**
 * One row per variable: what the docs must say about it.
 * @param {Section[]} sections
 */
export function referenceRows(sections) {
  return sections.flatMap((section) =>
    Object.entries(section.variables).map(([name, spec]) => ({
      name,
      section: section.title,
      category: spec.category,
      requirement: spec.requirement,
      default: defaultOf(spec),
      usedBy: [...spec.usedBy],
      secret: Boolean(spec.secret),
    })),
  );
}

/**
 * .env.example: the API's variables, then the stack's, grouped by category, each with its
 * requirement, default, meaning and, for secrets, how to make one.
 * @param {Section[]} sections
 */
export function renderEnvExample(sections) {
  const lines = [
    '# Environment of the observable NestJS backend. Copy to .env and fill in what you need:',
    '#   cp .env.example .env',
    `# Generated from ${sections.map((s) => s.source).join(' and ')} (npm run env:example); edit the schemas, not this file.`,
    '# npm run api, npm run up and docker compose read .env; a variable set in the environment wins over it.',
    '# [required] the process that uses it fails without it; [recommended] set it in production; [optional] has a default.',
    '# "used by": api = the NestJS app, stack = npm run up, compose = docker compose.',
    '',
  ];
  for (const section of sections) {
    lines.push(`# ${'#'.repeat(70)}`, `# ${section.title} (${section.source})`, `# ${'#'.repeat(70)}`, '');
    for (const category of section.categories) {
      const entries = Object.entries(section.variables).filter(([, spec]) => spec.category === category);
      lines.push(`# ${'='.repeat(70)}`, `# ${category} (${entries.length})`, `# ${'='.repeat(70)}`);
      for (const [name, spec] of entries) {
        const fallback = defaultOf(spec);
        lines.push(`# [${spec.requirement}] ${spec.description}`);
        lines.push(`#   used by: ${spec.usedBy.join(', ')}${fallback !== undefined ? `; default: ${fallback}` : ''}`);
        if (spec.secret) lines.push(`#   secret: never commit it. Generate: ${spec.howToGenerate ?? 'ask its owner'}`);
        if (spec.environmentOnly) lines.push('#   read from the environment only (setting it here has no effect)');
        const value = spec.example ?? fallback ?? '';
        const active = spec.requirement === 'required';
        lines.push(`${active ? '' : '# '}${name}=${value}`, '');
      }
    }
  }
  return `${lines.join('\n').trimEnd()}\n`;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const rendered = renderEnvExample(await loadSections());
  if (process.argv.includes('--check')) {
    if (readFileSync(ENV_EXAMPLE, 'utf8') !== rendered) {
      console.error('.env.example differs from the schemas: run `npm run env:example`');
      process.exit(1);
    }
  } else {
    writeFileSync(ENV_EXAMPLE, rendered);
    console.log(`wrote ${ENV_EXAMPLE}`);
  }
}
