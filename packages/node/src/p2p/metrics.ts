import { Counter, type Registry } from 'prom-client'

interface LabelledCounter<L extends string> {
  inc(labels: Partial<Record<L, string>>, value?: number): void
}

export interface P2PMetrics {
  gossipValidations: LabelledCounter<'topic' | 'verdict' | 'reason'>
  streamRequests: LabelledCounter<'protocol' | 'direction' | 'outcome'>
  artifactBytes: LabelledCounter<'direction'>
}

function counter<L extends string>(
  registry: Registry,
  name: string,
  help: string,
  labelNames: L[],
): Counter<L> {
  // many nodes may share one registry (tests, one process): reuse the metric
  const existing = registry.getSingleMetric(name)
  if (existing instanceof Counter) return existing as Counter<L>
  return new Counter({ name, help, labelNames, registers: [registry] })
}

export function createP2PMetrics(registry: Registry | undefined): P2PMetrics {
  if (registry === undefined) {
    const noop = { inc: () => {} }
    return { gossipValidations: noop, streamRequests: noop, artifactBytes: noop }
  }
  return {
    gossipValidations: counter(
      registry,
      'ocn_gossip_validations_total',
      'Gossip messages validated, by verdict',
      ['topic', 'verdict', 'reason'],
    ),
    streamRequests: counter(registry, 'ocn_stream_requests_total', 'Request-response streams, by outcome', [
      'protocol',
      'direction',
      'outcome',
    ]),
    artifactBytes: counter(
      registry,
      'ocn_artifact_transfer_bytes_total',
      'Artifact bytes sent and received',
      ['direction'],
    ),
  }
}
