import { dynamicImportPluginLoader, type PluginLoader } from '@perses-dev/plugin-system';
import * as gaugeChart from '@perses-dev/gauge-chart-plugin';
import * as pieChart from '@perses-dev/pie-chart-plugin';
import * as prometheus from '@perses-dev/prometheus-plugin';
import * as statChart from '@perses-dev/stat-chart-plugin';
import * as table from '@perses-dev/table-plugin';
import * as timeSeriesChart from '@perses-dev/timeseries-chart-plugin';

/**
 * The plugins the generated dashboards use, bundled into the page: Perses' dynamic-import loader
 * with imports that resolve at once, so nothing is fetched from a plugin server at run time.
 */
const MODULES = [prometheus, timeSeriesChart, statChart, gaugeChart, pieChart, table];

export const pluginLoader: PluginLoader = dynamicImportPluginLoader(
  MODULES.map((module) => ({ resource: module.getPluginModule(), importPlugin: () => Promise.resolve(module) })),
);
