import { Counter, type Registry } from 'prom-client'

interface LabelledCounter<L extends string> {
  inc(labels: Partial<Record<L, string>>, value?: number): void
}

export interface P2PMetrics {
  gossipValidations: LabelledCounter<'topic' | 'verdict' | 'reason'>
  streamRequests: LabelledCounter<'protocol' | 'direction' | 'outcome'>
  artifactBytes: LabelledCounter<'direction'>
  /** streams cut off for stalling past their idle or total deadline */
  streamStalls: LabelledCounter<'protocol' | 'direction'>
  /** inbound requests refused before any work: a penalised peer, a full peer share, no slot */
  streamRefusals: LabelledCounter<'protocol' | 'reason'>
  /** gossip verdicts escalated from ignore to reject (a peer past its ignore budget) */
  gossipEscalations: LabelledCounter<'topic'>
  /** graylisted peers hung up on and refused for a while (graylist-gate.ts) */
  graylistCutOffs: LabelledCounter<never>
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
    return {
      gossipValidations: noop,
      streamRequests: noop,
      artifactBytes: noop,
      streamStalls: noop,
      streamRefusals: noop,
      gossipEscalations: noop,
      graylistCutOffs: noop,
    }
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
    streamStalls: counter(
      registry,
      'ocn_stream_stalls_total',
      'Streams cut off for stalling past their idle or total deadline',
      ['protocol', 'direction'],
    ),
    streamRefusals: counter(
      registry,
      'ocn_stream_refusals_total',
      'Inbound stream requests refused before any work, by reason',
      ['protocol', 'reason'],
    ),
    gossipEscalations: counter(
      registry,
      'ocn_gossip_ignore_escalations_total',
      'Gossip messages rejected because their sender was past its budget of ignored messages',
      ['topic'],
    ),
    graylistCutOffs: counter(
      registry,
      'ocn_p2p_graylist_cutoffs_total',
      'Graylisted peers hung up on and refused for a while',
      [],
    ),
  }
}
