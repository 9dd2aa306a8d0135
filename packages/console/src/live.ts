/**
 * The node's data as the page shows it: read once, then kept current by the node's job
 * event stream (through @ocn/client), with the status (chain block, peers) polled.
 */
import type {
  Balances,
  DevnetBoard,
  Job,
  NetworkView,
  NodeStatus,
  OcnClient,
  Offer,
  Peer,
  Progress,
  ProviderSummary,
  VerifierSummary,
} from '@ocn/client'
import { useEffect, useState } from 'preact/hooks'

export interface NodeData {
  status?: NodeStatus
  jobs: Job[]
  balances?: Balances
  peers?: Peer[]
  offers?: Offer[]
  network?: NetworkView
  /** under `ocn devnet` only */
  devnet?: DevnetBoard
  /** this node as a provider (terms, record, settlements); a problem on a node without the role */
  provider?: ProviderSummary
  /** this node as a verifier (checks, disputes, rewards); a problem on a node without the role */
  verifier?: VerifierSummary
  /** per job: the latest step of each piece of long work (stage and label), finished ones kept */
  progress: Record<string, Progress[]>
  /** Why a part could not be read (e.g. "API_SERVICE_UNAVAILABLE: peers are not available"). */
  problems: Record<string, string>
  stream: 'connecting' | 'live' | 'down'
  /** Unix ms of the last job event, for the page's own latency check. */
  lastEventAt?: number
}

const POLL_MS = 5_000

function describe(error: unknown): string {
  const coded = error as { code?: string; shortMessage?: string; message?: string }
  return `${coded.code ?? 'ERROR'}: ${coded.shortMessage ?? coded.message ?? String(error)}`
}

/** Pieces of work followed per job (a transfer of each artifact, execution, replays...). */
const MAX_PIECES = 8
/** Jobs whose progress is kept; the oldest is dropped past it. */
const MAX_PROGRESS_JOBS = 200

function withProgress(all: Record<string, Progress[]>, step: Progress): Record<string, Progress[]> {
  const id = step.jobId ?? 'node'
  const same = (known: Progress) => known.stage === step.stage && known.label === step.label
  const pieces = [...(all[id] ?? []).filter((known) => !same(known)), step].slice(-MAX_PIECES)
  const next = { ...all, [id]: pieces }
  const ids = Object.keys(next)
  if (ids.length > MAX_PROGRESS_JOBS) delete next[ids[0]!]
  return next
}

function upsert(jobs: Job[], job: Job): Job[] {
  const rest = jobs.filter((known) => known.id !== job.id)
  return [job, ...rest].sort((a, b) => b.updatedAt - a.updatedAt)
}

export function useNodeData(client: OcnClient): NodeData {
  const [data, setData] = useState<NodeData>({
    jobs: [],
    problems: {},
    stream: 'connecting',
    progress: {},
  })

  useEffect(() => {
    const stop = new AbortController()
    const signal = stop.signal
    const read = async <
      K extends
        | 'status'
        | 'jobs'
        | 'balances'
        | 'peers'
        | 'offers'
        | 'network'
        | 'devnet'
        | 'provider'
        | 'verifier',
    >(
      key: K,
      load: () => Promise<NodeData[K]>,
    ) => {
      try {
        const value = await load()
        setData((now) => {
          const problems = { ...now.problems }
          delete problems[key]
          return { ...now, [key]: value, problems }
        })
      } catch (error) {
        // a node outside a devnet has no board: nothing to report
        if (key === 'devnet' && (error as { status?: number }).status === 404) return
        if (!signal.aborted)
          setData((now) => ({ ...now, problems: { ...now.problems, [key]: describe(error) } }))
      }
    }
    // the role summaries move when a job settles: read them then, not only on the next poll
    const readRoles = () => {
      void read('provider', () => client.provider({ signal }))
      void read('verifier', () => client.verifier({ signal }))
    }
    const refresh = () => {
      void read('status', () => client.status({ signal }))
      void read('balances', () => client.balances({ signal }))
      void read('peers', () => client.peers({ signal }))
      void read('offers', () => client.offers({ signal }))
      void read('network', () => client.network({ signal }))
      void read('devnet', () => client.devnet({ signal }))
      readRoles()
    }
    const follow = async () => {
      for (let delay = 500; !signal.aborted; delay = Math.min(delay * 2, 10_000)) {
        try {
          for await (const item of client.activity({}, { signal })) {
            if (item === 'ready') {
              setData((now) => ({ ...now, stream: 'live' }))
              await read('jobs', async () =>
                (await client.jobs({ limit: 500 }, { signal })).sort((a, b) => b.updatedAt - a.updatedAt),
              )
              delay = 500
            } else if (item !== 'end') {
              if (item.type === 'progress') {
                const step = item.progress
                setData((now) => ({ ...now, progress: withProgress(now.progress, step) }))
              } else {
                const job = item.job
                setData((now) => ({ ...now, jobs: upsert(now.jobs, job), lastEventAt: Date.now() }))
                if (job.state === 'finalized' || job.state === 'slashed') readRoles()
              }
            }
          }
        } catch {
          if (signal.aborted) return
        }
        setData((now) => ({ ...now, stream: 'down' }))
        await new Promise((resolve) => setTimeout(resolve, delay))
      }
    }
    refresh()
    void follow()
    const timer = setInterval(refresh, POLL_MS)
    return () => {
      clearInterval(timer)
      stop.abort()
    }
  }, [client])

  return data
}
