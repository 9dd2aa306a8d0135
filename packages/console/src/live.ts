/**
 * The node's data as the page shows it: read once, then kept current by the node's job
 * event stream (through @ocn/client), with the status (chain block, peers) polled.
 */
import type { Balances, Job, NodeStatus, OcnClient, Offer, Peer } from '@ocn/client'
import { useEffect, useState } from 'preact/hooks'

export interface NodeData {
  status?: NodeStatus
  jobs: Job[]
  balances?: Balances
  peers?: Peer[]
  offers?: Offer[]
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

function upsert(jobs: Job[], job: Job): Job[] {
  const rest = jobs.filter((known) => known.id !== job.id)
  return [job, ...rest].sort((a, b) => b.updatedAt - a.updatedAt)
}

export function useNodeData(client: OcnClient): NodeData {
  const [data, setData] = useState<NodeData>({ jobs: [], problems: {}, stream: 'connecting' })

  useEffect(() => {
    const stop = new AbortController()
    const signal = stop.signal
    const read = async <K extends 'status' | 'jobs' | 'balances' | 'peers' | 'offers'>(
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
        if (!signal.aborted)
          setData((now) => ({ ...now, problems: { ...now.problems, [key]: describe(error) } }))
      }
    }
    const refresh = () => {
      void read('status', () => client.status({ signal }))
      void read('balances', () => client.balances({ signal }))
      void read('peers', () => client.peers({ signal }))
      void read('offers', () => client.offers({ signal }))
    }
    const follow = async () => {
      for (let delay = 500; !signal.aborted; delay = Math.min(delay * 2, 10_000)) {
        try {
          for await (const item of client.events({}, { signal })) {
            if (item === 'ready') {
              setData((now) => ({ ...now, stream: 'live' }))
              await read('jobs', async () =>
                (await client.jobs({ limit: 500 }, { signal })).sort((a, b) => b.updatedAt - a.updatedAt),
              )
              delay = 500
            } else if (item !== 'end') {
              setData((now) => ({ ...now, jobs: upsert(now.jobs, item), lastEventAt: Date.now() }))
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
