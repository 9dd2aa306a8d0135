/**
 * The progress of a job's long work while `ocn job submit` follows it: the node's
 * `progress` events for that job (GET /events?jobId=…&progress=1, through @ocn/client) drawn
 * as bars (createProgressBoard). Best effort: a node without the stream, or one that ends
 * it, leaves the lifecycle lines alone.
 */
import type { OcnClient } from '@ocn/client'
import { createProgressBoard } from './progress.js'

export interface JobProgressWatch {
  stop(): void
}

export function watchJobProgress(
  client: OcnClient,
  jobId: string,
  output: { stream: NodeJS.WritableStream & { isTTY?: boolean; columns?: number }; silent: boolean },
): JobProgressWatch {
  const stop = new AbortController()
  const board = createProgressBoard({ stream: output.stream, silent: output.silent, indent: '    ' })
  const run = async () => {
    for await (const item of client.activity({ jobId }, { signal: stop.signal, timeoutMs: 24 * 3600_000 })) {
      if (item === 'end') return
      if (item !== 'ready' && item.type === 'progress') board.update(item.progress)
    }
  }
  run()
    .catch(() => {})
    .finally(() => board.close('job moved on'))
  return { stop: () => stop.abort() }
}
