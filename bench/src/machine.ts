/** What the numbers were measured on: machine, Node, load generator and package versions. */
import { readFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { createRequire } from 'node:module';
import { wrkVersion } from './lib/wrk.js';
import type { MachineInfo } from './results.js';
export type { MachineInfo };

const require = createRequire(import.meta.url);

const PACKAGES = [
  '@nestjs/core',
  '@nestjs/platform-express',
  '@nestjs/platform-fastify',
  'express',
  'fastify',
  'prom-client',
  'express-prom-bundle',
  'fastify-metrics',
  '@willsoto/nestjs-prometheus',
  '@opentelemetry/sdk-node',
  '@opentelemetry/instrumentation-http',
  '@opentelemetry/exporter-prometheus',
  '@opentelemetry/api',
  '@obsnest/observability',
];

function version(name: string): string {
  try {
    const path = require.resolve(`${name}/package.json`);
    return (JSON.parse(readFileSync(path, 'utf8')) as { version: string }).version;
  } catch {
    // packages whose exports hide package.json: find it next to the entry point
    try {
      let dir = require.resolve(name);
      for (let i = 0; i < 6; i++) {
        dir = dir.slice(0, dir.lastIndexOf('/'));
        try {
          const pkg = JSON.parse(readFileSync(`${dir}/package.json`, 'utf8')) as { name?: string; version: string };
          if (pkg.name === name) return pkg.version;
        } catch {
          // keep walking up
        }
      }
    } catch {
      // not installed
    }
    return 'unknown';
  }
}

/** The host as every result file describes it: CPU, cores, memory, kernel, Node. */
export function hostInfo() {
  let kernel = 'unknown';
  try {
    kernel = readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim();
  } catch {
    // not Linux
  }
  return {
    cpuModel: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    kernel,
    node: process.version,
  };
}

export function machineInfo(): MachineInfo {
  return {
    ...hostInfo(),
    loadGenerator: wrkVersion() ?? 'wrk (missing)',
    loadAverageAtStart: loadavg().map((l) => Math.round(l * 100) / 100),
    packages: Object.fromEntries(PACKAGES.map((p) => [p, version(p)])),
  };
}
