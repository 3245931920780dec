import type { ExpositionFormat } from './metrics.js';

interface MediaRange {
  readonly type: string;
  readonly version: string | undefined;
  readonly q: number;
}

function parseAccept(accept: string): MediaRange[] {
  return accept.split(',').map((part) => {
    const [type = '', ...params] = part.split(';').map((p) => p.trim());
    let q = 1;
    let version: string | undefined;
    for (const param of params) {
      const [key = '', value = ''] = param.split('=').map((p) => p.trim());
      if (key.toLowerCase() === 'q') q = Number.isNaN(Number(value)) ? 0 : Number(value);
      if (key.toLowerCase() === 'version') version = value;
    }
    return { type: type.toLowerCase(), version, q };
  });
}

/**
 * The format a scraper asked for in `Accept`: OpenMetrics 1.0.0 when it lists
 * `application/openmetrics-text` (version 1.0.0 or none) at least as high as the text format,
 * otherwise the Prometheus text format, which every scraper reads. Prometheus itself sends
 * `application/openmetrics-text;version=1.0.0,…,text/plain;version=0.0.4;q=0.5,…`.
 */
export function negotiateExpositionFormat(accept: string | undefined): ExpositionFormat {
  if (!accept) return 'text';
  let openMetrics = 0;
  let text = 0;
  for (const range of parseAccept(accept)) {
    if (range.type === 'application/openmetrics-text' && (range.version === undefined || range.version === '1.0.0')) {
      openMetrics = Math.max(openMetrics, range.q);
    } else if (range.type === 'text/plain' || range.type === 'text/*' || range.type === '*/*') {
      text = Math.max(text, range.q);
    }
  }
  return openMetrics > 0 && openMetrics >= text ? 'openmetrics' : 'text';
}
