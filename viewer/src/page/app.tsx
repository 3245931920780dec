import {
  Alert,
  Box,
  CircularProgress,
  Link,
  List,
  ListItemButton,
  ListItemText,
  MenuItem,
  Stack,
  TextField,
  ThemeProvider,
  Typography,
} from '@mui/material';
import { ChartsProvider, generateChartsTheme, getTheme, SnackbarProvider } from '@perses-dev/components';
import type { DashboardResource } from '@perses-dev/core';
import { ViewDashboard } from '@perses-dev/dashboards';
import { PluginRegistry } from '@perses-dev/plugin-system';
import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { type ReactElement, type ReactNode, useEffect, useMemo, useState } from 'react';
import { QueryParamProvider } from 'use-query-params';
import { WindowHistoryAdapter } from 'use-query-params/adapters/window';
import {
  type DashboardSummary,
  fetchConfig,
  fetchDashboard,
  fetchDashboards,
  prometheusProblem,
  type QuerySource,
  querySourceOf,
  type ViewerConfig,
} from './api.js';
import { prometheusDatasource, ViewerDatasourceApi } from './datasource.js';
import { pluginLoader } from './plugins.js';

const muiTheme = getTheme('light');
const chartsTheme = generateChartsTheme(muiTheme, {});
// Panels refetch on the dashboard's refresh interval; a refocused tab needs no extra round. Every
// refresh gives the queries a new key (a new time range, variables reloaded); keeping the previous
// data until the new one arrives stops every panel from blinking to a skeleton each 10 s.
const queryClient = new QueryClient({
  defaultOptions: { queries: { refetchOnWindowFocus: false, retry: 0, keepPreviousData: true } },
});

/** Where the page is: `/` lists the dashboards, `/d/<uid>` opens one (Grafana's URL habit). */
export function routeOf(pathname: string): { readonly uid?: string } {
  const match = /^\/d\/([^/]+)/.exec(pathname);
  return match ? { uid: decodeURIComponent(match[1] as string) } : {};
}

function useLoaded<T>(load: () => Promise<T>, key: string): { value?: T; error?: string } {
  const [state, setState] = useState<{ value?: T; error?: string }>({});
  // biome-ignore lint/correctness/useExhaustiveDependencies: reloads only when the key changes.
  useEffect(() => {
    load().then(
      (value) => setState({ value }),
      (error: unknown) => setState({ error: String(error) }),
    );
  }, [key]);
  return state;
}

/** Says so in the page while Prometheus cannot be reached through the proxy; checks every 10 s. */
function PrometheusStatus({ config }: { config: ViewerConfig }): ReactElement | null {
  const [problem, setProblem] = useState<string>();
  useEffect(() => {
    let stopped = false;
    const check = () => prometheusProblem().then((found) => !stopped && setProblem(found));
    check();
    const timer = setInterval(check, 10_000);
    return () => {
      stopped = true;
      clearInterval(timer);
    };
  }, []);
  if (!problem) return null;
  return (
    <Alert severity="error" data-testid="prometheus-unreachable" sx={{ borderRadius: 0 }}>
      Prometheus at {config.prometheusUrl} cannot be reached, so the panels have no data: {problem}
    </Alert>
  );
}

function DashboardIndex(): ReactElement {
  const { value: dashboards, error } = useLoaded<DashboardSummary[]>(fetchDashboards, 'index');
  if (error) return <Alert severity="error">{error}</Alert>;
  if (!dashboards) return <CircularProgress sx={{ m: 4 }} />;
  return (
    <Box sx={{ p: 3, maxWidth: 900 }}>
      <Typography variant="h1" sx={{ mb: 2 }}>
        Dashboards
      </Typography>
      <List data-testid="dashboard-list">
        {dashboards.map((dashboard) => (
          <ListItemButton key={dashboard.uid} component="a" href={`/d/${dashboard.uid}`}>
            <ListItemText primary={dashboard.title} secondary={dashboard.description} />
          </ListItemButton>
        ))}
      </List>
    </Box>
  );
}

/** Whole days, or hours below a day: how Prometheus' retention is spelled in the source picker. */
function spelledDuration(seconds: number): string {
  return seconds >= 86_400 ? `${Math.round(seconds / 86_400)} d` : `${Math.round(seconds / 3600)} h`;
}

/**
 * The backend picker, shown when a long-term store is configured. A choice reloads the page with
 * `?source=`, so a link keeps it and every panel's datasource is built once with it.
 */
function SourcePicker({ config, source }: { config: ViewerConfig; source: QuerySource }): ReactElement | null {
  if (!config.longTermUrl) return null;
  const after = spelledDuration(config.longTermAfterSeconds ?? 0);
  const pick = (next: string) => {
    const url = new URL(window.location.href);
    if (next === 'auto') url.searchParams.delete('source');
    else url.searchParams.set('source', next);
    window.location.assign(url.toString());
  };
  return (
    <TextField
      select
      size="small"
      label="Data from"
      value={source}
      onChange={(event) => pick(event.target.value)}
      inputProps={{ 'data-testid': 'query-source' }}
      sx={{ minWidth: 260 }}
    >
      <MenuItem value="auto">Automatic (long-term store beyond {after})</MenuItem>
      <MenuItem value="prometheus">Prometheus</MenuItem>
      <MenuItem value="long-term">Long-term store</MenuItem>
    </TextField>
  );
}

function DashboardPage({ uid, config }: { uid: string; config: ViewerConfig }): ReactElement {
  const { value: dashboard, error } = useLoaded<DashboardResource>(() => fetchDashboard(uid), uid);
  const source = querySourceOf(window.location.search, config);
  const datasourceApi = useMemo(() => new ViewerDatasourceApi(prometheusDatasource(config.scrapeInterval, source)), [config, source]);
  if (error) return <Alert severity="error">{error}</Alert>;
  if (!dashboard) return <CircularProgress sx={{ m: 4 }} />;
  const title = (
    <Stack direction="row" spacing={2} alignItems="baseline">
      <Link href="/" underline="hover" variant="h3">
        Dashboards
      </Link>
      <Typography variant="h2">{dashboard.spec.display?.name ?? uid}</Typography>
      <SourcePicker config={config} source={source} />
    </Stack>
  );
  return (
    <ViewDashboard
      dashboardResource={dashboard}
      datasourceApi={datasourceApi}
      dashboardTitleComponent={title}
      isReadonly={true}
      isEditing={false}
      isVariableEnabled={false}
      isDatasourceEnabled={false}
      isInitialVariableSticky={true}
      isLeavingConfirmDialogEnabled={false}
    />
  );
}

function Providers({ children }: { children: ReactNode }): ReactElement {
  return (
    <ThemeProvider theme={muiTheme}>
      <ChartsProvider chartsTheme={chartsTheme}>
        <SnackbarProvider anchorOrigin={{ vertical: 'bottom', horizontal: 'right' }} variant="default" content="">
          <QueryClientProvider client={queryClient}>
            <QueryParamProvider adapter={WindowHistoryAdapter}>
              <PluginRegistry
                pluginLoader={pluginLoader}
                defaultPluginKinds={{ Panel: 'TimeSeriesChart', TimeSeriesQuery: 'PrometheusTimeSeriesQuery' }}
              >
                {children}
              </PluginRegistry>
            </QueryParamProvider>
          </QueryClientProvider>
        </SnackbarProvider>
      </ChartsProvider>
    </ThemeProvider>
  );
}

export function App(): ReactElement {
  const { value: config, error } = useLoaded(fetchConfig, 'config');
  const { uid } = routeOf(window.location.pathname);
  return (
    <Providers>
      {error && <Alert severity="error">{error}</Alert>}
      {config && (
        <Box sx={{ minHeight: '100vh', backgroundColor: muiTheme.palette.background.default }}>
          <PrometheusStatus config={config} />
          {uid ? <DashboardPage uid={uid} config={config} /> : <DashboardIndex />}
        </Box>
      )}
    </Providers>
  );
}
