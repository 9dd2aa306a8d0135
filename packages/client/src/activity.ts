/**
 * What the console's live pages read beyond the job records: progress of long work (the
 * `progress` events of `GET /events?progress=1`), the network with gossip scores
 * (`GET /network`) and, under `ocn devnet`, the devnet's board (`GET /devnet`). These shapes
 * mirror @ocn/node's api/interface.ts (ProgressUpdate, NetworkSummary, DevnetSummary).
 */
import type { Job, NodeRole } from './types.js'

export type ProgressStage = 'execution' | 'verification' | 'transfer' | 'circuit' | 'proving'

/** One step of long work on the node, rate-limited by the node (a few per second at most). */
export interface Progress {
  jobId?: string
  stage: ProgressStage
  /** `micro-batches`, `steps`, `tokens`, `replays`, `bytes`, `stages` */
  unit: string
  done: number
  total?: number
  label?: string
  /** units per second since the work began (bytes/s for transfers) */
  rate?: number
  at: number
  finished?: boolean
}

/** An item of `activity()`: a job record written, a progress step, or the stream's own marks. */
export type ActivityItem =
  | { type: 'job'; job: Job }
  | { type: 'progress'; progress: Progress }
  | 'ready'
  | 'end'

export interface NetworkPeer {
  peerId: string
  addresses: string[]
  /** gossipsub's score (negative: penalised) */
  score?: number
  topics: string[]
}

export interface NetworkView {
  peerId: string
  listen: string[]
  peers: NetworkPeer[]
  topics: { topic: string; meshPeers?: number; subscribers: number }[]
}

export interface DevnetBoardNode {
  name: string
  roles: NodeRole[]
  address: string
  apiUrl?: string
  cheater?: boolean
  state: 'starting' | 'running' | 'stopped'
}

export interface DevnetBoard {
  nodes: DevnetBoardNode[]
  workload?: { submitted: number; settled: number; total: number; failed: number }
}
