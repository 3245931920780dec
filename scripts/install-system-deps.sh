#!/usr/bin/env bash
# Installs the Debian packages the project runs or tests with, when they are missing.
# Used by .ci/run, by `npm test` (through scripts/ensure-deps.mjs --system) and by `npm run up`
# (through scripts/stack.mjs); safe to run again. Not root: it installs nothing and prints the
# exact command to run, exiting 1.
set -euo pipefail
need=()
command -v promtool >/dev/null || need+=(prometheus)
command -v prometheus-alertmanager >/dev/null || need+=(prometheus-alertmanager)
command -v prometheus-node-exporter >/dev/null || need+=(prometheus-node-exporter)
command -v prometheus-postgres-exporter >/dev/null || need+=(prometheus-postgres-exporter)
command -v prometheus-redis-exporter >/dev/null || need+=(prometheus-redis-exporter)
command -v docker-compose >/dev/null || need+=(docker-compose)
# The browser tests (dashboards, Swagger UI at /docs) drive this Chromium (never one a tool downloads);
# replicas sit behind HAProxy.
command -v chromium >/dev/null || need+=(chromium)
command -v haproxy >/dev/null || need+=(haproxy)
# The long-term store behind Prometheus in HA (PROMETHEUS_REPLICAS > 1).
command -v victoria-metrics >/dev/null || need+=(victoria-metrics)
# The benchmarks' load generator (`npm run bench`, bench/BENCHMARKS.md).
command -v wrk >/dev/null || need+=(wrk)
if [ ${#need[@]} -eq 0 ]; then
  echo "system packages present"
  exit 0
fi
if ! command -v apt-get >/dev/null; then
  echo "missing system packages: ${need[*]} (Debian package names; no apt-get here: install their equivalents and put them on PATH)" >&2
  exit 1
fi
if [ "$(id -u)" != 0 ]; then
  echo "missing Debian packages: ${need[*]}" >&2
  echo "run: sudo bash scripts/install-system-deps.sh   (or: sudo apt-get install ${need[*]})" >&2
  exit 1
fi
echo "installing: ${need[*]}"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
# Debian starts packaged daemons as services on install where an init system runs; the project
# starts its own instances on its own ports, so stop any that came up.
for svc in prometheus prometheus-alertmanager prometheus-node-exporter prometheus-postgres-exporter prometheus-redis-exporter haproxy victoria-metrics; do
  if command -v service >/dev/null 2>&1; then service "$svc" stop >/dev/null 2>&1 || true; fi
done
