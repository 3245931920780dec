/** The soak's console lines and its Markdown table. */
import type { Sample, Verdict } from './verdict.js';

const f = (x: number, digits = 1): string => (Number.isFinite(x) ? x.toFixed(digits) : '–');

export function header(): string {
  return '   time  RSS MiB heap MiB  lag p99 ms (max)  series (app)    req/s  p50/p99 ms  API CPU ms/req  load   requests  failed  ws  events';
}

export function line(s: Sample): string {
  return [
    `${f(s.t, 0).padStart(6)}s`,
    `${f(s.rssMiB).padStart(8)}`,
    `${f(s.heapUsedMiB).padStart(8)}`,
    `${f(s.lagP99Ms).padStart(10)} (${f(s.lagP99MaxMs).padStart(5)})`,
    `${String(s.series).padStart(7)} (${String(s.appSeries).padStart(3)})`,
    `${f(s.reqPerSec).padStart(8)}`,
    `${f(s.p50Ms)}/${f(s.p99Ms)}`.padStart(11),
    `${f(s.apiCpuPct, 0)} %`.padStart(8),
    `${f(s.apiCpuMsPerRequest, 2)}`.padStart(6),
    `${f(s.load1, 2)}`.padStart(5),
    `${String(s.requests).padStart(10)}`,
    `${String(s.failures).padStart(7)}`,
    `${String(s.websocketConnections).padStart(3)}`,
    `${String(s.wsEvents).padStart(7)}`,
  ].join(' ');
}

/** At most about `rows` rows: evenly spaced samples, the first and the last always kept. */
export function condense(samples: readonly Sample[], rows = 16): Sample[] {
  if (samples.length <= rows) return [...samples];
  const step = Math.ceil(samples.length / (rows - 1));
  const picked = samples.filter((_, i) => i % step === 0);
  const last = samples.at(-1) as Sample;
  if (picked.at(-1) !== last) picked.push(last);
  return picked;
}

export function markdownTable(samples: readonly Sample[]): string {
  const head =
    '| time s | RSS MiB | heap used MiB (lowest) | loop lag p99 ms (max) | series (app) | exposition KiB | req/s | p50 / p99 ms | API CPU % | CPU ms/req | load | requests | failed | ws clients (connects) | user.created events |';
  const rule =
    '| -----: | ------: | ---------------------: | --------------------: | -----------: | -------------: | ----: | -----------: | --------: | ---------: | ---: | -------: | -----: | -------------------: | ------------------: |';
  const rows = samples.map(
    (s) =>
      `| ${f(s.t, 0)} | ${f(s.rssMiB)} | ${f(s.heapUsedMiB)} (${f(s.heapMinMiB)}) | ${f(s.lagP99Ms)} (${f(s.lagP99MaxMs)}) | ${s.series} (${s.appSeries}) | ${f(s.exposureKiB)} | ${f(s.reqPerSec, 0)} | ${f(s.p50Ms)} / ${f(s.p99Ms)} | ${f(s.apiCpuPct, 0)} | ${f(s.apiCpuMsPerRequest, 2)} | ${f(s.load1, 2)} | ${s.requests.toLocaleString('en-US')} | ${s.failures} | ${s.websocketConnections} (${s.wsConnects.toLocaleString('en-US')}) | ${s.wsEvents.toLocaleString('en-US')} |`,
  );
  return [head, rule, ...rows].join('\n');
}

export function verdictLines(verdict: Verdict): string[] {
  return [
    ...verdict.checks.map(
      (c) => `  ${c.ok ? 'ok  ' : c.advisory ? 'warn' : 'FAIL'} ${c.name}: ${c.detail}${c.advisory ? ` (not judged: ${c.advisory})` : ''}`,
    ),
    `  slopes after warm-up (not judged): RSS ${f(verdict.slopesPerMinute.rssMiB, 2)} MiB/min, heap used ${f(verdict.slopesPerMinute.heapUsedMiB, 2)} MiB/min`,
    `  verdict: ${verdict.levelled ? 'levels off' : 'does NOT level off'}; ${verdict.clean ? 'no failures' : 'FAILURES'}`,
  ];
}
