import type { MetricDefinition } from './contract.js';

/** A table cell: pipes escaped so a help text cannot end its cell. */
const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');

function labelsCell(def: MetricDefinition): string {
  if (def.labelNames.length === 0) return 'none';
  return def.labelNames
    .map((label) => {
      const values = def.labelValues?.[label];
      return values ? `\`${label}\` (${values.join(', ')})` : `\`${label}\``;
    })
    .join(', ');
}

/**
 * The metric table of the docs, from the contracts: name, type, help, labels with their closed
 * values, buckets. Columns are padded so the committed Markdown reads as a table in a plain editor,
 * too; the output is deterministic, so a test can compare it with what is committed.
 */
export function metricTableMarkdown(defs: readonly MetricDefinition[]): string {
  const header = ['Name', 'Type', 'Help', 'Labels (closed values)', 'Buckets'];
  const rows = defs.map((def) => [
    `\`${def.name}\``,
    def.unit ? `${def.type} (${def.unit})` : def.type,
    cell(def.help),
    labelsCell(def),
    def.buckets ? def.buckets.join(', ') : '',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells: readonly string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

/**
 * `doc` with the text between `<!-- name:begin … -->` and `<!-- name:end -->` replaced by `content`.
 * Throws when the markers are missing or out of order, so a generator never silently writes nothing.
 */
export function replaceMarkedSection(doc: string, name: string, content: string): string {
  const begin = new RegExp(`<!-- ${name}:begin[^>]*-->\\n`);
  const end = `<!-- ${name}:end -->`;
  const start = begin.exec(doc);
  const stop = doc.indexOf(end);
  if (!start || stop === -1 || stop < start.index)
    throw new Error(`no <!-- ${name}:begin --> … <!-- ${name}:end --> markers in the document`);
  const from = start.index + start[0].length;
  // Blank lines around the content: the table then starts a Markdown block of its own after the comment.
  return `${doc.slice(0, from)}\n${content}\n\n${doc.slice(stop)}`;
}
