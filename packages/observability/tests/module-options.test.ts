import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type INestApplication, Injectable, Module, Optional } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { AppMetrics, ManagementServer, ObservabilityModule, type ObservabilityOptions } from '../src/index.js';
import { ADAPTERS, type Adapter, withApp } from './support/app.js';
import { ItemsController } from './support/controllers.js';
import { httpSeries, parseExposition, sampleValue, scrape, scrapeText, waitFor } from './support/metrics.js';
import { freePort } from './support/ports.js';
import { TEST_APP_METRICS } from './support/test-contract.js';

describe('forRoot options', () => {
  for (const adapter of ADAPTERS) {
    it(`defaultLabels and defaultMetrics reach the exposition (${adapter})`, () =>
      withApp(
        adapter,
        {
          controllers: [ItemsController],
          observability: { defaultLabels: { service: 'shop', region: 'eu-1' }, defaultMetrics: true, metrics: [TEST_APP_METRICS] },
        },
        async ({ url }) => {
          assert.equal((await fetch(`${url}/items/1`)).status, 200);
          const e = await waitFor('the request to be counted', async () => {
            const s = await scrape(url);
            return s.samples.some((x) => x.name === 'http_requests_total') ? s : undefined;
          });
          assert.ok(e.samples.length > 50);
          for (const s of e.samples) assert.deepEqual([s.labels.service, s.labels.region], ['shop', 'eu-1'], s.name);
          assert.ok(e.types.has('nodejs_eventloop_lag_p99_seconds'), 'default metrics on');
          assert.equal(sampleValue(e, 'test_emails_sent_total', { transport: 'dev', service: 'shop' }), 0);
        },
      ));
  }

  it('defaultMetrics: false leaves prom-client runtime metrics out', () =>
    withApp('express', { observability: { defaultMetrics: false } }, async ({ url }) => {
      const text = await scrapeText(url);
      assert.doesNotMatch(text, /^nodejs_eventloop_lag/m);
      assert.match(text, /^app_build_info\{/m);
    }));
});

/** What an app's config module looks like to Nest (@nestjs/config's ConfigService, here a plain provider). */
class Settings {
  constructor(readonly values: Record<string, string | undefined>) {}
  get(key: string): string | undefined {
    return this.values[key];
  }
}

function settingsModule(values: Record<string, string | undefined>) {
  @Module({ providers: [{ provide: Settings, useValue: new Settings(values) }], exports: [Settings] })
  class SettingsModule {}
  return SettingsModule;
}

@Injectable()
class NeedsMetrics {
  constructor(@Optional() readonly metrics?: AppMetrics) {}
}

async function startAsync(adapter: Adapter, values: Record<string, string | undefined>): Promise<{ app: INestApplication; url: string }> {
  const SettingsModule = settingsModule(values);
  @Module({
    imports: [
      ObservabilityModule.forRootAsync({
        imports: [SettingsModule],
        inject: [Settings],
        useFactory: async (settings: Settings): Promise<ObservabilityOptions> => ({
          metricsEnabled: settings.get('METRICS_ENABLED') !== 'false',
          appVersion: settings.get('VERSION') ?? 'unset',
          defaultMetrics: false,
          defaultLabels: { service: settings.get('SERVICE') ?? 'none' },
          managementPort: settings.get('MANAGEMENT_PORT') ? Number(settings.get('MANAGEMENT_PORT')) : undefined,
          metrics: [TEST_APP_METRICS],
        }),
      }),
    ],
    controllers: [ItemsController],
    providers: [NeedsMetrics],
  })
  class AsyncModule {}
  const app = await NestFactory.create(AsyncModule, adapter === 'express' ? new ExpressAdapter() : new FastifyAdapter(), {
    logger: false,
    abortOnError: false,
  });
  await app.listen(0, '127.0.0.1');
  return { app, url: `http://127.0.0.1:${(app.getHttpServer().address() as { port: number }).port}` };
}

for (const adapter of ADAPTERS) {
  describe(`forRootAsync (${adapter})`, () => {
    it('takes its options from a provider of an imported module, and counts requests exactly', async () => {
      const { app, url } = await startAsync(adapter, { VERSION: '9.9.9', SERVICE: 'orders' });
      try {
        for (let i = 0; i < 4; i++) assert.equal((await fetch(`${url}/items/${i}`)).status, 200);
        assert.equal((await fetch(`${url}/boom`)).status, 500);
        assert.equal((await fetch(`${url}/nowhere`)).status, 404);
        await waitFor('exact counts', async () => {
          assert.deepEqual(httpSeries(await scrape(url)), ['GET /boom 500 = 1', 'GET /items/:id 200 = 4', 'GET UNMATCHED 404 = 1']);
          return true;
        });
        const e = await scrape(url);
        assert.equal(sampleValue(e, 'app_build_info', { version: '9.9.9', service: 'orders' }), 1);
        const metrics = app.get(NeedsMetrics).metrics;
        assert.ok(metrics instanceof AppMetrics);
        metrics.handle(TEST_APP_METRICS.emailsSentTotal).inc({ transport: 'smtp' }, 5);
        assert.equal(sampleValue(await scrape(url), 'test_emails_sent_total', { transport: 'smtp' }), 5);
      } finally {
        await app.close();
      }
    });

    it('metricsEnabled: false from the factory: AppMetrics is null, /metrics answers 404, requests are not counted', async () => {
      const { app, url } = await startAsync(adapter, { METRICS_ENABLED: 'false' });
      try {
        assert.equal(app.get(NeedsMetrics).metrics, null);
        assert.equal((await fetch(`${url}/items/1`)).status, 200);
        const res = await fetch(`${url}/metrics`);
        assert.equal(res.status, 404);
        assert.doesNotMatch(await res.text(), /http_requests_total/);
        assert.equal((await fetch(`${url}/health/live`)).status, 200);
      } finally {
        await app.close();
      }
    });

    it('a managementPort from the factory moves /metrics there; the application port answers 404', async () => {
      const managementPort = await freePort();
      const { app, url } = await startAsync(adapter, { MANAGEMENT_PORT: String(managementPort) });
      try {
        assert.equal(app.get(ManagementServer).address?.port, managementPort);
        assert.equal((await fetch(`${url}/items/1`)).status, 200);
        const onAppPort = await fetch(`${url}/metrics`);
        assert.equal(onAppPort.status, 404);
        assert.doesNotMatch(await onAppPort.text(), /http_requests_total/);
        assert.equal((await fetch(`${url}/health/ready`)).status, 404);
        const management = `http://127.0.0.1:${managementPort}`;
        await waitFor('the request on the management port', async () => {
          assert.deepEqual(httpSeries(parseExposition(await scrapeText(management))), ['GET /items/:id 200 = 1']);
          return true;
        });
      } finally {
        await app.close();
      }
    });
  });
}
