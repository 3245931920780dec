import type * as cog from '@grafana/grafana-foundation-sdk/cog';
import {
  GraphThresholdsStyleConfigBuilder,
  GraphThresholdsStyleMode,
  LegendDisplayMode,
  LegendPlacement,
  ReduceDataOptionsBuilder,
  SortOrder,
  StackingConfigBuilder,
  StackingMode,
  TooltipDisplayMode,
  VizLegendOptionsBuilder,
  VizTooltipOptionsBuilder,
  BigValueColorMode,
  BigValueGraphMode,
  type DataSourceRef,
} from '@grafana/grafana-foundation-sdk/common';
import {
  type DataTransformerConfig,
  MappingType,
  type ThresholdsConfig,
  ThresholdsConfigBuilder,
  ThresholdsMode,
  type ValueMapping,
} from '@grafana/grafana-foundation-sdk/dashboard';
import { PanelBuilder as GaugePanelBuilder } from '@grafana/grafana-foundation-sdk/gauge';
import {
  PanelBuilder as PieChartPanelBuilder,
  PieChartLabels,
  PieChartLegendOptionsBuilder,
  PieChartLegendValues,
  PieChartType,
} from '@grafana/grafana-foundation-sdk/piechart';
import { DataqueryBuilder, PromQueryFormat } from '@grafana/grafana-foundation-sdk/prometheus';
import { PanelBuilder as StatPanelBuilder } from '@grafana/grafana-foundation-sdk/stat';
import { PanelBuilder as TablePanelBuilder } from '@grafana/grafana-foundation-sdk/table';
import { PanelBuilder as TimeseriesPanelBuilder } from '@grafana/grafana-foundation-sdk/timeseries';

/**
 * Panel factories with the defaults every dashboard here shares: the `$datasource` variable on
 * panel and query, a unit, thresholds, legends that name the series. Each factory takes plain
 * options, so a dashboard module reads as a list of panels and their queries.
 */

/** Every panel and query reads the dashboard's `datasource` variable. */
// biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's variable syntax, not a JavaScript template.
export const DATASOURCE: DataSourceRef = { type: 'prometheus', uid: '${datasource}' };

export interface Query {
  readonly expr: string;
  /** Grafana legend template, e.g. `{{route}}`. */
  readonly legend?: string;
  /** One value per series at the end of the range (stats, pies, tables) instead of a graph. */
  readonly instant?: boolean;
  /** Also fetch the series' exemplars (trace_id dots linking to the trace, see datasources.yml). */
  readonly exemplar?: boolean;
}

/** A threshold step: from `value` upwards (null = from minus infinity) the colour applies. */
export type Step = readonly [value: number | null, color: string];

export interface PanelOptions {
  readonly title: string;
  readonly description: string;
  /** Grafana unit id: reqps, s, percentunit, bytes, short, ops, Bps… */
  readonly unit: string;
  readonly queries: readonly Query[];
  readonly width?: number;
  readonly height?: number;
  readonly thresholds?: readonly Step[];
  readonly decimals?: number;
  readonly min?: number;
  readonly max?: number;
  readonly mappings?: readonly ValueMapping[];
  /** Shown instead of "No data", e.g. "0" for a count that is empty when nothing happened. */
  readonly noValue?: string;
}

/** The methods every panel builder of the SDK has; the factories below only rely on these. */
interface CommonPanelBuilder {
  title(title: string): unknown;
  description(description: string): unknown;
  datasource(datasource: DataSourceRef): unknown;
  height(h: number): unknown;
  span(w: number): unknown;
  unit(unit: string): unknown;
  withTarget(target: cog.Builder<cog.Dataquery>): unknown;
  thresholds(thresholds: cog.Builder<ThresholdsConfig>): unknown;
  decimals(decimals: number): unknown;
  min(min: number): unknown;
  max(max: number): unknown;
  mappings(mappings: ValueMapping[]): unknown;
  noValue(noValue: string): unknown;
}

const DEFAULT_STEPS: readonly Step[] = [[null, 'green']];

function thresholdsOf(steps: readonly Step[]): ThresholdsConfigBuilder {
  return new ThresholdsConfigBuilder().mode(ThresholdsMode.Absolute).steps(steps.map(([value, color]) => ({ value, color })));
}

function queryOf(query: Query, index: number, table: boolean): DataqueryBuilder {
  const builder = new DataqueryBuilder()
    .datasource(DATASOURCE)
    .refId(String.fromCharCode(65 + index))
    .expr(query.expr)
    .legendFormat(query.legend ?? '__auto');
  if (table) builder.format(PromQueryFormat.Table);
  if (query.exemplar) builder.exemplar(true);
  return query.instant ? builder.instant() : builder.range();
}

function configure<B extends CommonPanelBuilder>(builder: B, options: PanelOptions, table = false): B {
  builder.title(options.title);
  builder.description(options.description);
  builder.datasource(DATASOURCE);
  builder.span(options.width ?? 12);
  builder.height(options.height ?? 8);
  builder.unit(options.unit);
  builder.thresholds(thresholdsOf(options.thresholds ?? DEFAULT_STEPS));
  if (options.decimals !== undefined) builder.decimals(options.decimals);
  if (options.min !== undefined) builder.min(options.min);
  if (options.max !== undefined) builder.max(options.max);
  if (options.mappings) builder.mappings([...options.mappings]);
  if (options.noValue !== undefined) builder.noValue(options.noValue);
  for (const [index, query] of options.queries.entries()) builder.withTarget(queryOf(query, index, table));
  return builder;
}

/**
 * What a factory was given, kept beside the Grafana panel it built: the Perses emitter
 * (perses/emit.ts) reads the same definitions instead of translating Grafana's JSON back.
 */
export type PanelDefinition =
  | { readonly kind: 'timeseries'; readonly options: TimeseriesOptions }
  | { readonly kind: 'stat'; readonly options: StatOptions }
  | { readonly kind: 'gauge'; readonly options: PanelOptions }
  | { readonly kind: 'pie'; readonly options: PanelOptions }
  | { readonly kind: 'table'; readonly options: TableOptions };

// Keyed by the built panel object: the SDK's build() returns the object the dashboard holds.
const definitions = new WeakMap<object, PanelDefinition>();

function remember<B extends cog.Builder<object>>(builder: B, definition: PanelDefinition): B {
  definitions.set(builder.build(), definition);
  return builder;
}

/** The options a panel of a built dashboard was made from, if a factory of this module made it. */
export function definitionOf(panel: object): PanelDefinition | undefined {
  return definitions.get(panel);
}

const lastValue = (): ReduceDataOptionsBuilder => new ReduceDataOptionsBuilder().calcs(['lastNotNull']).values(false);

export interface TimeseriesOptions extends PanelOptions {
  /** Stack the series, for parts of a whole (queue depth by state). */
  readonly stack?: boolean;
  /** Legend as a table with these reducers, e.g. ['mean', 'max']. */
  readonly legendCalcs?: readonly string[];
}

export function timeseries(options: TimeseriesOptions): TimeseriesPanelBuilder {
  const legend = new VizLegendOptionsBuilder().showLegend(true).placement(LegendPlacement.Bottom);
  if (options.legendCalcs) {
    legend.displayMode(LegendDisplayMode.Table).calcs([...options.legendCalcs]);
  } else {
    legend.displayMode(LegendDisplayMode.List).calcs([]);
  }
  const panel = configure(new TimeseriesPanelBuilder(), options)
    .legend(legend)
    .tooltip(new VizTooltipOptionsBuilder().mode(TooltipDisplayMode.Multi).sort(SortOrder.Descending))
    .lineWidth(1)
    .fillOpacity(options.stack ? 30 : 10);
  if (options.stack) panel.stacking(new StackingConfigBuilder().mode(StackingMode.Normal));
  // Thresholds given for a graph are limits worth seeing: draw them as dashed lines.
  if (options.thresholds) {
    panel.thresholdsStyle(new GraphThresholdsStyleConfigBuilder().mode(GraphThresholdsStyleMode.Dashed));
  }
  return remember(panel, { kind: 'timeseries', options });
}

export interface StatOptions extends PanelOptions {
  /** Draw the series behind the value. */
  readonly sparkline?: boolean;
}

export function stat(options: StatOptions): StatPanelBuilder {
  const panel = configure(new StatPanelBuilder(), { height: 8, width: 6, ...options })
    .reduceOptions(lastValue())
    .graphMode(options.sparkline ? BigValueGraphMode.Area : BigValueGraphMode.None)
    .colorMode(BigValueColorMode.Value);
  return remember(panel, { kind: 'stat', options });
}

export function gauge(options: PanelOptions): GaugePanelBuilder {
  const panel = configure(new GaugePanelBuilder(), { width: 6, ...options })
    .reduceOptions(lastValue())
    .showThresholdMarkers(true)
    .showThresholdLabels(false);
  return remember(panel, { kind: 'gauge', options });
}

export function pieChart(options: PanelOptions): PieChartPanelBuilder {
  const panel = configure(new PieChartPanelBuilder(), { width: 6, ...options })
    .reduceOptions(lastValue())
    .pieType(PieChartType.Donut)
    .displayLabels([PieChartLabels.Percent])
    .legend(
      new PieChartLegendOptionsBuilder()
        .showLegend(true)
        .displayMode(LegendDisplayMode.Table)
        .placement(LegendPlacement.Right)
        .values([PieChartLegendValues.Value, PieChartLegendValues.Percent])
        .calcs([]),
    );
  return remember(panel, { kind: 'pie', options });
}

export interface TableOptions extends PanelOptions {
  readonly transformations?: readonly DataTransformerConfig[];
}

/** A table of instant query results, one row per series, labels as columns. */
export function table(options: TableOptions): TablePanelBuilder {
  const panel = configure(new TablePanelBuilder(), options, true);
  for (const transformation of options.transformations ?? []) panel.withTransformation(transformation);
  return remember(panel, { kind: 'table', options });
}

/** Maps 1/0 (`up`, `pg_up`, `redis_up`) to UP/DOWN in green/red. */
export const UP_DOWN_MAPPING: ValueMapping = {
  type: MappingType.ValueToText,
  options: {
    '0': { text: 'DOWN', color: 'red', index: 1 },
    '1': { text: 'UP', color: 'green', index: 0 },
  },
};
