import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client'

/**
 * One registry per daemon. The libp2p host registers into the same one by passing
 * `prometheusMetrics({ registry, preserveExistingMetrics: true, collectDefaultMetrics: false })`,
 * so `GET /metrics` shows process, OCN and libp2p metrics together.
 */
export interface CreateMetricsRegistryOptions {
  /** Node process metrics (CPU, memory, event loop lag); on by default. */
  collectDefaultMetrics?: boolean
  /** Labels added to every metric, e.g. `{ node: peerId }` in multi-node tests. */
  defaultLabels?: Record<string, string>
}

export function createMetricsRegistry(options: CreateMetricsRegistryOptions = {}): Registry {
  const registry = new Registry()
  if (options.defaultLabels !== undefined) registry.setDefaultLabels(options.defaultLabels)
  if (options.collectDefaultMetrics !== false) collectDefaultMetrics({ register: registry })
  return registry
}

export const METRIC_PREFIX = 'ocn_'

/** Unit suffixes allowed on gauges and histograms (Prometheus naming: base units, plural). */
const unitSuffixes = [
  '_seconds',
  '_bytes',
  '_samples',
  '_jobs',
  '_peers',
  '_wei',
  '_ratio',
  '_blocks',
] as const

export class MetricNameError extends Error {
  override name = 'MetricNameError'
}

function checkName(name: string, kind: 'counter' | 'gauge' | 'histogram'): string {
  if (!/^[a-z][a-z0-9_]*$/.test(name)) throw new MetricNameError(`metric name "${name}" must be snake_case`)
  if (name.startsWith(METRIC_PREFIX))
    throw new MetricNameError(`metric name "${name}" must not repeat the prefix`)
  if (kind === 'counter' && !name.endsWith('_total')) {
    throw new MetricNameError(`counter "${name}" must end in _total`)
  }
  if (kind !== 'counter' && name.endsWith('_total')) {
    throw new MetricNameError(`${kind} "${name}" must not end in _total (that suffix marks counters)`)
  }
  // A gauge may count things (ocn_jobs); a histogram always measures a unit.
  if (kind === 'histogram' && !unitSuffixes.some((suffix) => name.endsWith(suffix))) {
    throw new MetricNameError(`histogram "${name}" must end in a unit suffix (${unitSuffixes.join(', ')})`)
  }
  return METRIC_PREFIX + name
}

export interface MetricDefinition<TLabel extends string> {
  name: string
  help: string
  labelNames?: readonly TLabel[]
}

export interface GaugeDefinition<TLabel extends string> extends MetricDefinition<TLabel> {
  /** Called at scrape time to refresh the value (e.g. count records in the store). */
  collect?: (this: Gauge<TLabel>) => void | Promise<void>
}

export interface HistogramDefinition<TLabel extends string> extends MetricDefinition<TLabel> {
  buckets?: number[]
}

/**
 * Typed metric constructors for every OCN subsystem: names get the `ocn_` prefix and must
 * carry a unit suffix (`_total` for counters), so dashboards can rely on them.
 * Asking twice for the same name returns the metric already registered, which lets
 * several instances of a service share a registry.
 */
export interface MetricsFactory {
  readonly registry: Registry
  counter<TLabel extends string = never>(definition: MetricDefinition<TLabel>): Counter<TLabel>
  gauge<TLabel extends string = never>(definition: GaugeDefinition<TLabel>): Gauge<TLabel>
  histogram<TLabel extends string = never>(definition: HistogramDefinition<TLabel>): Histogram<TLabel>
}

export function createMetricsFactory(registry: Registry): MetricsFactory {
  function existing<T>(name: string): T | undefined {
    return registry.getSingleMetric(name) as T | undefined
  }
  return {
    registry,
    counter(definition) {
      const name = checkName(definition.name, 'counter')
      return (
        existing(name) ??
        new Counter({
          name,
          help: definition.help,
          labelNames: definition.labelNames ?? [],
          registers: [registry],
        })
      )
    },
    gauge(definition) {
      const name = checkName(definition.name, 'gauge')
      return (
        existing(name) ??
        new Gauge({
          name,
          help: definition.help,
          labelNames: definition.labelNames ?? [],
          registers: [registry],
          ...(definition.collect === undefined ? {} : { collect: definition.collect }),
        })
      )
    },
    histogram(definition) {
      const name = checkName(definition.name, 'histogram')
      return (
        existing(name) ??
        new Histogram({
          name,
          help: definition.help,
          labelNames: definition.labelNames ?? [],
          registers: [registry],
          ...(definition.buckets === undefined ? {} : { buckets: definition.buckets }),
        })
      )
    },
  }
}

/** Renders the registry in the Prometheus text format. */
export async function renderMetrics(registry: Registry): Promise<{ contentType: string; body: string }> {
  return { contentType: registry.contentType, body: await registry.metrics() }
}

export { Registry } from 'prom-client'
