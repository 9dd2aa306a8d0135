/**
 * `GET /devnet` on a node that `ocn devnet` started: the devnet runner keeps a small JSON
 * board (every node, the workload's progress) in the devnet's folder and names it to each
 * node; the API reads it on each request. Size-limited, and only the fields the page shows
 * are passed on, so a stray file cannot put anything else on the page.
 */
import { readFile, stat } from 'node:fs/promises'
import { ApiError } from './errors.js'
import type { DevnetNodeSummary, DevnetSummary } from './interface.js'

const MAX_BOARD_BYTES = 256 * 1024
const NODE_STATES = new Set(['starting', 'running', 'stopped'])

function text(value: unknown, fallback = ''): string {
  return typeof value === 'string' ? value.slice(0, 512) : fallback
}

function count(value: unknown): number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? value : 0
}

function boardNode(raw: Record<string, unknown>): DevnetNodeSummary {
  const state = text(raw.state)
  return {
    name: text(raw.name, '?'),
    roles: (Array.isArray(raw.roles) ? raw.roles : []).filter(
      (role): role is DevnetNodeSummary['roles'][number] =>
        role === 'provider' || role === 'requester' || role === 'verifier',
    ),
    address: text(raw.address),
    ...(typeof raw.apiUrl === 'string' ? { apiUrl: text(raw.apiUrl) } : {}),
    ...(raw.cheater === true ? { cheater: true } : {}),
    state: NODE_STATES.has(state) ? (state as DevnetNodeSummary['state']) : 'running',
  }
}

/** The board as the API serves it; 404 when this node has none, 503 when it cannot be read. */
export async function readDevnetBoard(path: string): Promise<DevnetSummary> {
  if (path === '') throw new ApiError('API_NOT_FOUND', 'this node is not part of an `ocn devnet`')
  let raw: Record<string, unknown>
  try {
    const info = await stat(path)
    if (!info.isFile() || info.size > MAX_BOARD_BYTES) throw new Error(`not a devnet board: ${path}`)
    raw = JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>
  } catch (cause) {
    throw new ApiError('API_SERVICE_UNAVAILABLE', 'the devnet board cannot be read yet', { cause })
  }
  const nodes = (Array.isArray(raw.nodes) ? raw.nodes : [])
    .slice(0, 256)
    .filter((node): node is Record<string, unknown> => typeof node === 'object' && node !== null)
    .map(boardNode)
  const work = raw.workload
  if (typeof work !== 'object' || work === null) return { nodes }
  const w = work as Record<string, unknown>
  return {
    nodes,
    workload: {
      submitted: count(w.submitted),
      settled: count(w.settled),
      failed: count(w.failed),
      total: count(w.total),
    },
  }
}
