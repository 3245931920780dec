import { CATEGORIES, ENV, type VariableSpec } from './schema.js';

function defaultOf(spec: VariableSpec): string | undefined {
  const result = spec.schema.safeParse(undefined);
  if (!result.success || result.data === undefined) return undefined;
  const value = result.data;
  if (Array.isArray(value)) return value.length ? value.join(',') : undefined;
  return String(value);
}

/**
 * Renders .env.example from the schema, grouped by category, each variable with its requirement,
 * default, meaning and, for secrets, how to make one. A test keeps the committed file equal to this.
 */
export function renderEnvExample(): string {
  const lines = [
    '# Environment of the observable NestJS backend. Copy to .env and fill in what you need:',
    '#   cp .env.example .env',
    '# Generated from apps/api/src/config/schema.ts (npm run env:example); edit the schema, not this file.',
    '# [required] the process that uses it fails without it; [recommended] set it in production; [optional] has a default.',
    '# "used by": api = the NestJS app, stack = npm run up, compose = docker compose.',
    '',
  ];
  for (const category of CATEGORIES) {
    const entries = Object.entries(ENV as Record<string, VariableSpec>).filter(([, spec]) => spec.category === category);
    lines.push(`# ${'='.repeat(70)}`, `# ${category} (${entries.length})`, `# ${'='.repeat(70)}`);
    for (const [name, spec] of entries) {
      const fallback = defaultOf(spec);
      lines.push(`# [${spec.requirement}] ${spec.description}`);
      lines.push(`#   used by: ${spec.usedBy.join(', ')}${fallback !== undefined ? `; default: ${fallback}` : ''}`);
      if (spec.secret) lines.push(`#   secret: never commit it. Generate: ${spec.howToGenerate ?? 'ask its owner'}`);
      const value = spec.example ?? fallback ?? '';
      const active = spec.requirement === 'required';
      lines.push(`${active ? '' : '# '}${name}=${value}`, '');
    }
  }
  return `${lines.join('\n').trimEnd()}\n`;
}
