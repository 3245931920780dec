import { type Dashboard, RowBuilder } from '@grafana/grafana-foundation-sdk/dashboard';
import { DEFAULT_CONFIG, type MixinConfig } from '../../../src/config.js';
import { jobVariable, newDashboard } from '../dashboard.js';
import { errorBudget, type Slo, slos, WATCHDOG_ALERT } from '../objectives.js';
import { stat, type Step, table, timeseries } from '../panels.js';
import { eq, ne, selector } from '../promql.js';
import { PROMETHEUS_METRICS } from '../scrape-targets.js';

/**
 * The API's two SLOs over their 30-day period (budget left, current burn rates, the indicator
 * over time) and the alerts firing now. Everything reads the SLO recording rules, so the numbers
 * are the ones the burn-rate alerts act on.
 */

const JOB = [eq('job', '$job')];

/** The SLO's bad-request ratio over a window, for the selected job. */
const badRatio = (slo: Slo, window: Parameters<Slo['badRatio']>[0]): string => selector(slo.badRatio(window), JOB);

/** Colours for "share of the budget left": gone, nearly gone, fine. */
const BUDGET_STEPS: readonly Step[] = [
  [null, 'red'],
  [0, 'orange'],
  [0.25, 'green'],
];

function sloRow(slo: Slo, config: MixinConfig) {
  const SLO_PERIOD = config.objectives.period;
  const BURN_RATE_CONDITIONS = config.objectives.burnRates;
  // Burn rates shown on the dashboards: the long window of each alert condition.
  const BURN_RATE_WINDOWS = BURN_RATE_CONDITIONS.map((condition) => condition.longWindow);
  const budget = errorBudget(slo);
  const budgetRemaining = `1 - ${badRatio(slo, SLO_PERIOD)} / ${budget}`;
  const objective = `${Number((slo.objective * 100).toPrecision(12))} %`;
  return {
    row: new RowBuilder(`${slo.title}: ${objective} of requests ${slo.goodRequest}`),
    panels: [
      stat({
        title: `${slo.title} Error Budget Remaining`,
        description:
          `Share of the ${SLO_PERIOD} error budget (${budget} of requests may fail the ${slo.title.toLowerCase()} ` +
          'objective) not yet spent. Negative: the objective is missed for the period.',
        unit: 'percentunit',
        decimals: 1,
        thresholds: BUDGET_STEPS,
        queries: [{ expr: budgetRemaining, legend: 'budget remaining' }],
      }),
      stat({
        title: `${slo.title} SLI (${SLO_PERIOD})`,
        description: `Share of requests ${slo.goodRequest} over the SLO period; the objective is ${objective}.`,
        unit: 'percentunit',
        decimals: 3,
        thresholds: [
          [null, 'red'],
          [slo.objective, 'green'],
        ],
        queries: [{ expr: `1 - ${badRatio(slo, SLO_PERIOD)}`, legend: 'SLI' }],
      }),
      timeseries({
        title: `${slo.title} Burn Rate`,
        description:
          'How many times faster than sustainable the error budget is being spent, per window (1 = the budget ' +
          `lasts exactly the period). The dashed lines are the burn rates ${slo.burnRateAlert} fires at.`,
        unit: 'short',
        min: 0,
        thresholds: [
          [null, 'green'],
          ...[...new Set(BURN_RATE_CONDITIONS.map((condition) => condition.burnRate))]
            .sort((a, b) => a - b)
            .map((rate): Step => [rate, rate >= 6 ? 'red' : 'orange']),
        ],
        queries: BURN_RATE_WINDOWS.map((window) => ({
          expr: `${badRatio(slo, window)} / ${budget}`,
          legend: window,
        })),
      }),
      timeseries({
        title: `${slo.title} SLI`,
        description: `Share of requests ${slo.goodRequest}, over 5 minutes and over 1 hour. The dashed line is the objective.`,
        unit: 'percentunit',
        thresholds: [
          [null, 'red'],
          [slo.objective, 'green'],
        ],
        queries: (['5m', '1h'] as const).map((window) => ({ expr: `1 - ${badRatio(slo, window)}`, legend: window })),
      }),
      timeseries({
        title: `${slo.title} Error Budget Over Time`,
        description: `Share of the ${SLO_PERIOD} error budget left, as it evolved.`,
        unit: 'percentunit',
        thresholds: BUDGET_STEPS,
        queries: [{ expr: budgetRemaining, legend: 'budget remaining' }],
      }),
    ],
  };
}

const FIRING = selector(PROMETHEUS_METRICS.alerts, [eq('alertstate', 'firing'), ne('alertname', WATCHDOG_ALERT)]);

const firingAlertCount = () =>
  stat({
    title: 'Firing Alerts',
    description: `Alerts firing now, by severity (the always-firing ${WATCHDOG_ALERT} left out).`,
    unit: 'short',
    decimals: 0,
    noValue: '0',
    height: 8,
    thresholds: [
      [null, 'green'],
      [1, 'red'],
    ],
    queries: [{ expr: `count by (severity) (${FIRING})`, legend: '{{severity}}', instant: true }],
  });

const firingAlerts = () =>
  table({
    title: 'Firing Alerts List',
    description: 'One row per firing alert with its labels; the runbook link is in the alert annotations.',
    unit: 'short',
    width: 18,
    height: 8,
    queries: [{ expr: FIRING, instant: true }],
    transformations: [
      {
        id: 'organize',
        options: {
          excludeByName: { Time: true, Value: true, __name__: true, alertstate: true },
          indexByName: { alertname: 0, severity: 1, job: 2, instance: 3 },
          renameByName: {},
        },
      },
    ],
  });

export function sloAlertsDashboard(config: MixinConfig = DEFAULT_CONFIG): Dashboard {
  const dashboard = newDashboard({
    uid: 'slo-alerts',
    title: 'SLO and alerts',
    description: 'Availability and latency SLOs of the API: error budget, burn rates, indicators; firing alerts.',
    tags: ['slo', 'alerts'],
  })
    .time({ from: 'now-7d', to: 'now' })
    .refresh('1m')
    .withVariable(jobVariable(config.job));
  for (const slo of slos(config)) {
    const { row, panels } = sloRow(slo, config);
    dashboard.withRow(row);
    for (const panel of panels) dashboard.withPanel(panel);
  }
  return dashboard.withRow(new RowBuilder('Alerts')).withPanel(firingAlertCount()).withPanel(firingAlerts()).build();
}
