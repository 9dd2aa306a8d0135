/**
 * The devnet's board: every node and the workload's progress, kept as a small JSON file in
 * the devnet's folder that each node's API serves at `GET /devnet` (the console's network
 * page shows it). Written from the devnet's own events, one write at a time, each to a
 * temporary file renamed over the board, so a node never reads half a file.
 */
import { rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'

/** The devnet events the board follows (devnet.ts's DevnetEvent, named here without a cycle). */
export type BoardEvent =
  | { type: 'step'; message: string }
  | {
      type: 'node'
      node: { name: string; roles: string[]; address: string; api: string; cheater: boolean }
    }
  | { type: 'job'; job: { name: string; status: string }; state: string; at: number }

/** A node's API address without the token the devnet puts in its user part. */
function withoutToken(api: string): string {
  const url = new URL(api)
  url.username = ''
  url.password = ''
  return url.toString()
}

/** The variable that names the board to each `ocn start` of the devnet. */
export const DEVNET_BOARD_ENV = 'OCN_DEVNET_BOARD'
export const DEVNET_BOARD_FILE = 'devnet-board.json'

const SETTLED = new Set(['finalized', 'slashed'])
const FAILED = new Set(['failed', 'expired', 'submit-failed', 'timeout'])

export interface DevnetBoard {
  readonly path: string
  onEvent(event: BoardEvent): void
  /** the workload's size, once it is generated */
  setTotal(total: number): void
  /** resolves once every write asked for so far is on disk */
  flush(): Promise<void>
}

export function createDevnetBoard(dir: string): DevnetBoard {
  const path = join(dir, DEVNET_BOARD_FILE)
  const nodes = new Map<string, Record<string, unknown>>()
  const jobs = new Map<string, string>()
  let total = 0
  let writing: Promise<void> = Promise.resolve()
  let queued = false

  const snapshot = () => {
    const states = [...jobs.values()]
    return {
      nodes: [...nodes.values()],
      workload: {
        submitted: states.filter((state) => state !== 'submit-failed').length,
        settled: states.filter((state) => SETTLED.has(state)).length,
        failed: states.filter((state) => FAILED.has(state)).length,
        total: Math.max(total, jobs.size),
      },
    }
  }
  // at most one write waits: it takes the state as it is when it runs
  const write = () => {
    if (queued) return
    queued = true
    writing = writing.then(async () => {
      queued = false
      const temporary = `${path}.tmp`
      await writeFile(temporary, JSON.stringify(snapshot()), { mode: 0o600 })
      await rename(temporary, path)
    })
    writing = writing.catch(() => {})
  }

  return {
    path,
    onEvent(event) {
      if (event.type === 'node') {
        const node = event.node
        nodes.set(node.name, {
          name: node.name,
          roles: node.roles,
          address: node.address,
          apiUrl: withoutToken(node.api),
          cheater: node.cheater,
          state: 'running',
        })
      } else if (event.type === 'job') {
        jobs.set(event.job.name, event.job.status === 'submit-failed' ? 'submit-failed' : event.state)
      } else return
      write()
    },
    setTotal(count) {
      total = count
      write()
    },
    flush: () => {
      write()
      return writing
    },
  }
}
