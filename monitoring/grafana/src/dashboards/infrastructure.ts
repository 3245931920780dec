import { type Dashboard, RowBuilder } from '@grafana/grafana-foundation-sdk/dashboard';
import { newDashboard } from '../dashboard.js';
import { DEFAULT_CONFIG, type MixinConfig } from '../../../src/config.js';
import { loadBalancerRow } from './load-balancer.js';
import { stat, timeseries, UP_DOWN_MAPPING } from '../panels.js';
import { avg, eq, nre, rate, selector, sum } from '../promql.js';
import {
  JOBS,
  NODE_EXPORTER_METRICS as NODE,
  POSTGRES_EXPORTER_METRICS as PG,
  PROMETHEUS_METRICS,
  REDIS_EXPORTER_METRICS as REDIS,
} from '../scrape-targets.js';

/**
 * What the API stands on: every scrape target, the host (node-exporter), PostgreSQL
 * (postgres-exporter) and Redis (redis-exporter). Queries select the exporters' jobs by name.
 */

// Panels are factories: a builder's output is mutated when placed on a dashboard.

const node = (metric: string, ...matchers: string[]): string => selector(metric, [eq('job', JOBS.node), ...matchers]);
const pg = (metric: string): string => selector(metric, [eq('job', JOBS.postgres)]);
const redis = (metric: string): string => selector(metric, [eq('job', JOBS.redis)]);

// In-memory, read-only image and container file systems say nothing about disk space.
const realFilesystems = nre('fstype', 'tmpfs|ramfs|squashfs|overlay|nsfs|fuse.lxcfs');
// Loopback and container-side virtual interfaces would count the same traffic twice.
const physicalInterfaces = nre('device', 'lo|veth.*|docker.*|br-.*');

const targetsUp = () =>
  stat({
    title: 'Scrape Targets',
    description: 'Every target Prometheus scrapes: UP when the last scrape succeeded.',
    unit: 'none',
    width: 24,
    height: 4,
    mappings: [UP_DOWN_MAPPING],
    thresholds: [
      [null, 'red'],
      [1, 'green'],
    ],
    queries: [{ expr: PROMETHEUS_METRICS.up, legend: '{{job}} {{instance}}', instant: true }],
  });

const cpuUsage = () =>
  timeseries({
    title: 'CPU Usage',
    description: 'Share of CPU time not idle, averaged over all cores of each host.',
    unit: 'percentunit',
    min: 0,
    max: 1,
    queries: [
      {
        expr: `1 - ${avg(rate(node(NODE.cpuSecondsTotal, eq('mode', 'idle'))), ['instance'])}`,
        legend: '{{instance}}',
      },
    ],
  });

const memoryUsage = (c: MixinConfig) =>
  timeseries({
    title: 'Memory Usage',
    description: 'Share of memory not available to new processes. The dashed lines are the HostMemoryLow thresholds.',
    unit: 'percentunit',
    min: 0,
    max: 1,
    thresholds: [
      [null, 'green'],
      [1 - c.thresholds.memoryAvailableRatio.warning, 'orange'],
      [1 - c.thresholds.memoryAvailableRatio.critical, 'red'],
    ],
    queries: [
      {
        expr: `1 - ${node(NODE.memoryAvailableBytes)} / ${node(NODE.memoryTotalBytes)}`,
        legend: '{{instance}}',
      },
    ],
  });

const diskUsage = (c: MixinConfig) =>
  timeseries({
    title: 'Disk Usage',
    description: 'Share of each file system in use. The dashed lines are the HostDiskSpaceLow thresholds.',
    unit: 'percentunit',
    min: 0,
    max: 1,
    thresholds: [
      [null, 'green'],
      [1 - c.thresholds.diskFreeRatio.warning, 'orange'],
      [1 - c.thresholds.diskFreeRatio.critical, 'red'],
    ],
    queries: [
      {
        expr: `1 - ${node(NODE.filesystemAvailBytes, realFilesystems)} / ${node(NODE.filesystemSizeBytes, realFilesystems)}`,
        legend: '{{instance}} {{mountpoint}}',
      },
    ],
  });

const networkTraffic = () =>
  timeseries({
    title: 'Network Traffic',
    description: 'Bytes received and sent per second by interface.',
    unit: 'Bps',
    queries: [
      {
        expr: sum(rate(node(NODE.networkReceiveBytesTotal, physicalInterfaces)), ['instance', 'device']),
        legend: '{{instance}} {{device}} received',
      },
      {
        expr: sum(rate(node(NODE.networkTransmitBytesTotal, physicalInterfaces)), ['instance', 'device']),
        legend: '{{instance}} {{device}} sent',
      },
    ],
  });

/** Up/down stat of one exporter's own connectivity gauge (`pg_up`, `redis_up`). */
const exporterUp = (title: string, description: string, expr: string) =>
  stat({
    title,
    description,
    unit: 'none',
    width: 4,
    mappings: [UP_DOWN_MAPPING],
    thresholds: [
      [null, 'red'],
      [1, 'green'],
    ],
    queries: [{ expr, legend: '{{instance}}', instant: true }],
  });

const postgresUp = () => exporterUp('PostgreSQL', 'Whether postgres-exporter can connect to PostgreSQL.', pg(PG.up));

const postgresConnections = () =>
  timeseries({
    title: 'PostgreSQL Connections',
    description: 'Server processes per database, against the server-wide max_connections.',
    unit: 'short',
    min: 0,
    width: 10,
    queries: [
      { expr: sum(pg(PG.backends), ['datname']), legend: '{{datname}}' },
      { expr: sum(pg(PG.maxConnections)), legend: 'max_connections' },
    ],
  });

const postgresTransactions = () =>
  timeseries({
    title: 'PostgreSQL Transactions',
    description: 'Transactions committed and rolled back per second, per database.',
    unit: 'ops',
    min: 0,
    width: 10,
    queries: [
      { expr: sum(rate(pg(PG.transactionsCommitted)), ['datname']), legend: '{{datname}} commits' },
      { expr: sum(rate(pg(PG.transactionsRolledBack)), ['datname']), legend: '{{datname}} rollbacks' },
    ],
  });

const postgresDatabaseSize = () =>
  timeseries({
    title: 'PostgreSQL Database Size',
    description: 'Size on disk of each database.',
    unit: 'bytes',
    min: 0,
    queries: [{ expr: sum(pg(PG.databaseSizeBytes), ['datname']), legend: '{{datname}}' }],
  });

const postgresDeadlocks = () =>
  timeseries({
    title: 'PostgreSQL Deadlocks',
    description: 'Deadlocks detected per second, per database. Any is worth a look at the transaction order.',
    unit: 'short',
    min: 0,
    queries: [{ expr: sum(rate(pg(PG.deadlocks)), ['datname']), legend: '{{datname}}' }],
  });

const redisUp = () => exporterUp('Redis', 'Whether redis-exporter can connect to Redis.', redis(REDIS.up));

const redisMemory = () =>
  timeseries({
    title: 'Redis Memory',
    description: 'Memory used by Redis, and its maxmemory limit when one is set (0 = none).',
    unit: 'bytes',
    min: 0,
    width: 10,
    queries: [
      { expr: sum(redis(REDIS.memoryUsedBytes), ['instance']), legend: '{{instance}} used' },
      { expr: sum(redis(REDIS.memoryMaxBytes), ['instance']), legend: '{{instance}} max' },
    ],
  });

const redisClients = () =>
  timeseries({
    title: 'Redis Connected Clients',
    description: 'Client connections; the API holds a few per instance for the queue.',
    unit: 'short',
    min: 0,
    width: 10,
    queries: [{ expr: sum(redis(REDIS.connectedClients), ['instance']), legend: '{{instance}}' }],
  });

const redisCommands = () =>
  timeseries({
    title: 'Redis Commands',
    description: 'Commands processed per second.',
    unit: 'ops',
    min: 0,
    queries: [{ expr: sum(rate(redis(REDIS.commandsProcessedTotal)), ['instance']), legend: '{{instance}}' }],
  });

const redisKeyspaceHits = () => {
  const hits = sum(rate(redis(REDIS.keyspaceHitsTotal)), ['instance']);
  const misses = sum(rate(redis(REDIS.keyspaceMissesTotal)), ['instance']);
  return timeseries({
    title: 'Redis Keyspace Hit Ratio',
    description: 'Share of key lookups that found their key.',
    unit: 'percentunit',
    min: 0,
    max: 1,
    queries: [{ expr: `${hits} / (${hits} + ${misses})`, legend: '{{instance}}' }],
  });
};

export function infrastructureDashboard(c: MixinConfig = DEFAULT_CONFIG): Dashboard {
  return newDashboard({
    uid: 'infrastructure',
    title: 'Infrastructure',
    description: 'Scrape targets, host, PostgreSQL and Redis metrics from the exporters.',
    tags: ['infrastructure'],
  })
    .withPanel(targetsUp())
    .withRow(new RowBuilder('Host'))
    .withPanel(cpuUsage())
    .withPanel(memoryUsage(c))
    .withPanel(diskUsage(c))
    .withPanel(networkTraffic())
    .withRow(new RowBuilder('PostgreSQL'))
    .withPanel(postgresUp())
    .withPanel(postgresConnections())
    .withPanel(postgresTransactions())
    .withPanel(postgresDatabaseSize())
    .withPanel(postgresDeadlocks())
    .withRow(new RowBuilder('Redis'))
    .withPanel(redisUp())
    .withPanel(redisMemory())
    .withPanel(redisClients())
    .withPanel(redisCommands())
    .withPanel(redisKeyspaceHits())
    .withRow(loadBalancerRow())
    .build();
}
