/**
 * What the console's live pages read beyond the job records: progress of long work (the
 * `progress` events of `GET /events?progress=1`), the network with gossip scores
 * (`GET /network`) and, under `ocn devnet`, the devnet's board (`GET /devnet`). The shapes are
 * the node API's wire types from @ocn/protocol/api, under the names the console uses.
 */
import type {
  DevnetNodeSummary,
  DevnetSummary,
  GossipPeer,
  NetworkSummary,
  ProgressStage,
  ProgressUpdate,
} from '@ocn/protocol/api'
import type { Job } from './types.js'

export type { ProgressStage }
/** One step of long work on the node, rate-limited by the node (a few per second at most). */
export type Progress = ProgressUpdate

/** An item of `activity()`: a job record written, a progress step, or the stream's own marks. */
export type ActivityItem =
  | { type: 'job'; job: Job }
  | { type: 'progress'; progress: Progress }
  | 'ready'
  | 'end'

export type NetworkPeer = GossipPeer
export type NetworkView = NetworkSummary
export type DevnetBoardNode = DevnetNodeSummary
export type DevnetBoard = DevnetSummary
