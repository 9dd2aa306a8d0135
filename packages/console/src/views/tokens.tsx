/**
 * A generate job's tokens on the requester's page: each prompt's tokens as the provider
 * streams them, then the committed tokens (the authority), with prompts whose streamed
 * tokens differed flagged.
 */
import type { CommittedTokens, Job } from '@ocn/client'
import { useEffect, useState } from 'preact/hooks'
import type { Session } from '../session.js'

/** The requester's record says it is a generate job once tokens streamed or were committed. */
export function isGenerateJob(job: Job): boolean {
  const detail = job.detail as { streamed?: unknown; results?: { tokens?: unknown } } | undefined
  return Array.isArray(detail?.streamed) || Array.isArray(detail?.results?.tokens)
}

export function GeneratedTokens({ job, session }: { job: Job; session: Session }) {
  const generate = isGenerateJob(job)
  const [rows, setRows] = useState<number[][]>([])
  const [committed, setCommitted] = useState<CommittedTokens>()
  const [problem, setProblem] = useState<string>()
  useEffect(() => {
    if (!generate) return
    const controller = new AbortController()
    setRows([])
    setCommitted(undefined)
    setProblem(undefined)
    const follow = async () => {
      const seen: number[][] = []
      for await (const event of session.client.streamTokens(job.id, { signal: controller.signal })) {
        if (event.type === 'committed') setCommitted(event)
        else {
          while (seen.length <= event.prompt) seen.push([])
          seen[event.prompt]!.splice(event.from, event.tokens.length, ...event.tokens)
          setRows(seen.map((row) => [...row]))
        }
      }
    }
    follow().catch((error: unknown) => {
      if (!controller.signal.aborted) setProblem((error as Error).message)
    })
    return () => controller.abort()
  }, [job.id, generate, session])
  if (!generate) return null
  const shown = committed?.tokens ?? rows
  return (
    <div data-testid="tokens">
      <h3>Generated tokens</h3>
      <p class="muted" data-testid="tokens-state">
        {committed === undefined
          ? 'streaming from the provider…'
          : `committed${committed.verified ? ', checked against every committed leaf' : ''}`}
      </p>
      <ol class="tokens">
        {shown.map((row, prompt) => (
          <li key={prompt} data-prompt={prompt}>
            <code>{row.join(' ')}</code>
            {committed?.streamMismatches.includes(prompt) === true && (
              <span class="problem"> streamed tokens differed</span>
            )}
          </li>
        ))}
      </ol>
      {problem !== undefined && <p class="problem">{problem}</p>}
    </div>
  )
}
