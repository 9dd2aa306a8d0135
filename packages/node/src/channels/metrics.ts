import { Counter, type Registry } from 'prom-client'

export interface ChannelMetrics {
  requests: { inc(labels: { outcome: string }, value?: number): void }
  earned: { inc(value: number): void }
}

function counter<L extends string>(registry: Registry, name: string, help: string, labelNames: L[]) {
  // several services may share one registry (tests run many nodes in one process)
  const existing = registry.getSingleMetric(name)
  if (existing instanceof Counter) return existing as Counter<L>
  return new Counter({ name, help, labelNames, registers: [registry] })
}

export function createChannelMetrics(registry: Registry | undefined): ChannelMetrics {
  if (registry === undefined) return { requests: { inc: () => {} }, earned: { inc: () => {} } }
  const requests = counter(registry, 'ocn_channel_requests_total', 'Paid inference requests, by outcome', [
    'outcome',
  ])
  // OPEN, as a float: a counter of wei would overflow a double's integer range quickly
  const earned = counter(
    registry,
    'ocn_channel_vouchers_accepted_open_total',
    'OPEN covered by accepted vouchers',
    [],
  )
  return { requests, earned: { inc: (v) => earned.inc(v) } }
}
