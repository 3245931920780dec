/**
 * The part of Perses' dashboard resource format (v0.52, `@perses-dev/core`'s DashboardResource)
 * the emitter writes. Declared here rather than imported so the mixin does not depend on the
 * Perses UI packages; the viewer renders the emitted files with those packages, which checks
 * that this shape is the one Perses reads.
 */

export interface Definition<Spec> {
  readonly kind: string;
  readonly spec: Spec;
}

export interface FormatOptions {
  readonly unit: string;
  readonly decimalPlaces?: number;
  readonly shortValues?: boolean;
}

export interface ThresholdOptions {
  readonly defaultColor: string;
  readonly steps: readonly { readonly value: number; readonly color: string }[];
}

export interface PrometheusQuerySpec {
  readonly query: string;
  readonly seriesNameFormat?: string;
}

export interface QueryDefinition {
  readonly kind: 'TimeSeriesQuery';
  readonly spec: { readonly plugin: Definition<PrometheusQuerySpec> };
}

export interface PanelDefinition {
  readonly kind: 'Panel';
  readonly spec: {
    readonly display: { readonly name: string; readonly description: string };
    readonly plugin: Definition<Record<string, unknown>>;
    readonly queries: readonly QueryDefinition[];
  };
}

export interface GridItem {
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
  readonly content: { readonly $ref: `#/spec/panels/${string}` };
}

export interface GridLayout {
  readonly kind: 'Grid';
  readonly spec: {
    readonly display?: { readonly title: string; readonly collapse: { readonly open: boolean } };
    readonly items: readonly GridItem[];
  };
}

export interface ListVariable {
  readonly kind: 'ListVariable';
  readonly spec: {
    readonly name: string;
    readonly display: { readonly name: string; readonly hidden: boolean };
    readonly allowMultiple: boolean;
    readonly allowAllValue: boolean;
    readonly customAllValue?: string;
    readonly defaultValue?: string | readonly string[];
    readonly sort?: string;
    readonly plugin: Definition<{ readonly labelName: string; readonly matchers: readonly string[] }>;
  };
}

export interface DashboardResource {
  readonly kind: 'Dashboard';
  readonly metadata: { readonly name: string; readonly project: string };
  readonly spec: {
    readonly display: { readonly name: string; readonly description: string };
    readonly duration: string;
    readonly refreshInterval: string;
    readonly variables: readonly ListVariable[];
    readonly panels: Readonly<Record<string, PanelDefinition>>;
    readonly layouts: readonly GridLayout[];
  };
}
