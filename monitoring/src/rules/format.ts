/**
 * Line breaks for long rule expressions, at the set operators (`and`, `or`, `unless`, with their
 * `on`/`ignoring` clause) outside any bracket or string. PromQL ignores white space between
 * tokens, so this changes how a rule file reads, never what a rule means.
 */

const SET_OPERATOR = /^ (and|or|unless)((?: on| ignoring) \([^)]*\))? /;
const OPEN = new Set(['(', '[', '{']);
const CLOSE = new Set([')', ']', '}']);

interface Split {
  readonly parts: string[];
  readonly operators: string[];
}

function splitTopLevel(expr: string): Split {
  const parts: string[] = [];
  const operators: string[] = [];
  let depth = 0;
  let quote: string | null = null;
  let start = 0;
  for (let i = 0; i < expr.length; i++) {
    const char = expr[i] as string;
    if (quote) {
      if (char === '\\') i++;
      else if (char === quote) quote = null;
      continue;
    }
    if (char === '"' || char === "'" || char === '`') quote = char;
    else if (OPEN.has(char)) depth++;
    else if (CLOSE.has(char)) depth--;
    else if (depth === 0 && char === ' ') {
      const match = SET_OPERATOR.exec(expr.slice(i));
      if (match) {
        parts.push(expr.slice(start, i));
        operators.push(match[0].trim());
        i += match[0].length - 1;
        start = i + 1;
      }
    }
  }
  parts.push(expr.slice(start));
  return { parts, operators };
}

/** The index of the bracket closing the one at `open`, or -1. */
function closingParen(expr: string, open: number): number {
  let depth = 0;
  let quote: string | null = null;
  for (let i = open; i < expr.length; i++) {
    const char = expr[i] as string;
    if (quote) {
      if (char === '\\') i++;
      else if (char === quote) quote = null;
    } else if (char === '"' || char === "'" || char === '`') quote = char;
    else if (char === '(') depth++;
    else if (char === ')' && --depth === 0) return i;
  }
  return -1;
}

const indent = (text: string): string =>
  text
    .split('\n')
    .map((line) => `  ${line}`)
    .join('\n');

export function formatExpr(expr: string, width = 90): string {
  if (expr.length <= width) return expr;
  if (expr.startsWith('(') && closingParen(expr, 0) === expr.length - 1) {
    const inner = formatExpr(expr.slice(1, -1), width - 2);
    return inner.includes('\n') ? `(\n${indent(inner)}\n)` : expr;
  }
  const { parts, operators } = splitTopLevel(expr);
  if (operators.length === 0) return expr;
  const formatted = parts.map((part) => formatExpr(part, width));
  return formatted.reduce((text, part, index) => {
    const operator = operators[index - 1] as string;
    return part.includes('\n') ? `${text}\n${operator}\n${part}` : `${text}\n${operator} ${part}`;
  });
}
