import { Counter, type Registry } from 'prom-client'

export interface ArtifactStoreMetrics {
  bytesWritten: { inc(value?: number): void }
  bytesRead: { inc(value?: number): void }
}

function counter(registry: Registry, name: string, help: string): Counter {
  // several stores (nodes) may share one registry in tests: reuse the metric
  const existing = registry.getSingleMetric(name)
  if (existing instanceof Counter) return existing
  return new Counter({ name, help, registers: [registry] })
}

export function createArtifactStoreMetrics(registry: Registry | undefined): ArtifactStoreMetrics {
  if (registry === undefined) {
    const noop = { inc: () => {} }
    return { bytesWritten: noop, bytesRead: noop }
  }
  return {
    bytesWritten: counter(
      registry,
      'ocn_artifact_store_written_bytes_total',
      'Bytes written into the artifact store',
    ),
    bytesRead: counter(registry, 'ocn_artifact_store_read_bytes_total', 'Bytes read from the artifact store'),
  }
}
