import { RowBuilder } from '@grafana/grafana-foundation-sdk/dashboard';
import { stat, timeseries } from '../panels.js';
import { eq, rate, selector, sum } from '../promql.js';
import { HAPROXY_METRICS as HAPROXY } from '../scrape-targets.js';

/**
 * HAProxy in front of the API replicas (the native stack with API_REPLICAS > 1, job `haproxy`,
 * backend `api`): a collapsed row of the Infrastructure dashboard, empty where no HAProxy runs.
 * What only the load balancer sees: replicas in the pool, the errors it produced itself, retries.
 */

export const LOAD_BALANCER_JOB = 'haproxy';
const backend = (metric: string, ...matchers: string[]): string =>
  selector(metric, [eq('job', LOAD_BALANCER_JOB), eq('proxy', 'api'), ...matchers]);

const serversInPool = () =>
  stat({
    title: 'Replicas in the Pool',
    description: 'API replicas passing their /health/ready check. A draining replica (SIGTERM) leaves before it stops.',
    unit: 'none',
    width: 6,
    thresholds: [
      [null, 'red'],
      [1, 'orange'],
      [2, 'green'],
    ],
    queries: [{ expr: sum(backend(HAPROXY.backendActiveServers), []), legend: 'active', instant: true }],
  });

const serverState = () =>
  timeseries({
    title: 'Replica State',
    description: 'One line per replica: 1 while HAProxy considers it UP.',
    unit: 'none',
    min: 0,
    max: 1,
    width: 18,
    queries: [{ expr: backend(HAPROXY.serverStatus, eq('state', 'UP')), legend: '{{server}}' }],
  });

const responsesByClass = () =>
  timeseries({
    title: 'Responses by Class',
    description: 'Responses per second through the load balancer, including the 5xx it produced itself (no replica up).',
    unit: 'reqps',
    min: 0,
    queries: [{ expr: sum(rate(backend(HAPROXY.backendHttpResponsesTotal)), ['code']), legend: '{{code}}' }],
  });

const retries = () =>
  timeseries({
    title: 'Retries, Redispatches, Connection Errors',
    description: 'Requests sent again (to the same or another replica) and connections that failed: replicas dying or restarting.',
    unit: 'ops',
    min: 0,
    queries: [
      { expr: sum(rate(backend(HAPROXY.backendRetryWarningsTotal)), []), legend: 'retries' },
      { expr: sum(rate(backend(HAPROXY.backendRedispatchWarningsTotal)), []), legend: 'redispatches' },
      { expr: sum(rate(backend(HAPROXY.backendConnectionErrorsTotal)), []), legend: 'connection errors' },
    ],
  });

const responseTime = () =>
  timeseries({
    title: 'Average Response Time',
    description: "HAProxy's average over its last 1024 requests, as the client sees it (queue and replica).",
    unit: 's',
    min: 0,
    queries: [{ expr: backend(HAPROXY.backendResponseTimeAverageSeconds), legend: 'average' }],
  });

export function loadBalancerRow(): RowBuilder {
  return new RowBuilder('Load balancer (HAProxy)')
    .collapsed(true)
    .withPanel(serversInPool())
    .withPanel(serverState())
    .withPanel(responsesByClass())
    .withPanel(retries())
    .withPanel(responseTime());
}
