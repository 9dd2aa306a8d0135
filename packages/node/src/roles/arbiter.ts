/**
 * The arbiter role: the interim dispute path (the council holding the ARBITER role through
 * the AccessManager). On a challenge it re-executes the disputed micro-batch itself, asks the
 * provider for its committed leaf at that index (with its Merkle proof against the committed
 * root), and calls `resolve(jobId, providerCheated)`: the provider cheated when its leaf
 * differs from the re-execution or when it will not produce the leaf at all. The
 * challenger's claim is never trusted on its own.
 *
 * It keeps no records of its own: open disputes are found on the chain (Challenged events
 * whose job is still challenged), so a restart simply finds them again.
 */
import { getDispute, getJob, jobMarketAbi, type ProtocolEvent, resolve } from '@ocn/contracts-client'
import { merkleLeaf, verifyMerkleProof } from '@ocn/protocol'
import type { Hex } from 'viem'
import type { RoleService } from '../api/services.js'
import { createRoleMetrics } from './metrics.js'
import {
  attributionIndexOf,
  createTicker,
  findAwardedJob,
  leavesNeeded,
  loadJobAssets,
  type RoleComponents,
  replayFor,
  roleOptions,
} from './shared.js'

export interface ArbiterDecision {
  jobId: Hex
  leafIndex: number
  providerCheated: boolean
  replayed: Hex
  providerLeaf?: Hex
  reason: string
  txHash: Hex
}

export interface ArbiterRole extends RoleService {
  readonly role: 'arbiter'
  tick(): Promise<void>
  decisions(): ArbiterDecision[]
}

export function createArbiterRole(components: RoleComponents): ArbiterRole {
  const { chain, network, directory } = components
  const options = roleOptions(components)
  const metrics = createRoleMetrics(components.metrics)
  const log = components.logger.child({ role: 'arbiter' })
  const pending = new Set<Hex>()
  const resolving = new Map<Hex, Promise<void>>()
  const decisions: ArbiterDecision[] = []
  /** when the arbiter first looked for a disputed job's provider peer and did not know it */
  const peerWaitStarted = new Map<Hex, number>()
  const unsubscribers: Array<() => void> = []
  const market = () => chain.deployment.addresses.jobMarket

  function startResolve(jobId: Hex): void {
    pending.add(jobId)
    if (resolving.has(jobId)) return
    const run = resolveDispute(jobId)
      .then(() => void pending.delete(jobId))
      .catch((err: unknown) => log.warn({ jobId, err }, 'resolving the dispute failed; will retry'))
      .finally(() => resolving.delete(jobId))
    resolving.set(jobId, run)
  }

  async function resolveDispute(jobId: Hex): Promise<void> {
    const job = await getJob(chain.client, { jobMarket: market(), jobId })
    if (job.status !== 'challenged') return
    const dispute = await getDispute(chain.client, { jobMarket: market(), jobId })
    const leafIndex = Number(dispute.leafIndex)
    const award = await findAwardedJob(chain, jobId)
    if (award === undefined) throw new Error('no JobAwarded event for the disputed job')
    const providerPeer = directory.providerPeer(award.provider)
    if (providerPeer === undefined) {
      // give the provider's capability ad time to arrive before ruling it unreachable
      const firstSeen = peerWaitStarted.get(jobId) ?? Date.now()
      peerWaitStarted.set(jobId, firstSeen)
      if (Date.now() - firstSeen < options.unknownPeerGraceSeconds * 1000) {
        throw new Error('provider peer not known yet; waiting for its capability ad')
      }
    }
    peerWaitStarted.delete(jobId)
    const requesterPeer = directory.requesterPeer(jobId)
    const peers = [providerPeer, requesterPeer].filter((p): p is string => p !== undefined)
    const assets = await loadJobAssets(components, award, peers)
    const kind = assets.spec.kind

    // the provider's leaves proven against the committed root: the disputed one and, for
    // training, the checkpoint its segment starts from
    const proven = new Map<number, Hex>()
    let outputHash: Hex | undefined
    let unserved: string | undefined
    if (providerPeer === undefined) unserved = 'provider unreachable: no capability ad heard'
    else {
      try {
        const response = await network.results.requestResult(providerPeer, {
          version: 1,
          jobId,
          indices: leavesNeeded(kind, [leafIndex], attributionIndexOf(assets)),
        })
        if (response.status !== 'ok' || response.result === undefined) {
          unserved = `provider answered ${response.status}`
        } else {
          outputHash = response.result.outputHash
          for (const l of response.result.leaves) {
            if (verifyMerkleProof(job.resultRoot, merkleLeaf(l.index, l.dataHash), l.proof)) {
              proven.set(l.index, l.dataHash)
            }
          }
        }
      } catch (err) {
        unserved = `provider did not serve the leaf: ${(err as Error).message}`
      }
    }
    const replay = await replayFor(components, assets, {
      peer: providerPeer,
      outputHash,
      leaf: (i) => proven.get(i),
    })
    let replayed: Hex | undefined
    try {
      replayed =
        kind === 'training'
          ? await replay.runTrainingSegment(leafIndex)
          : await replay.runMicroBatch(leafIndex)
    } catch (err) {
      // a segment the provider's own committed checkpoint cannot start counts against it
      if (kind !== 'training') throw err
      unserved ??= `segment ${leafIndex} cannot be replayed from the provider's checkpoint: ${(err as Error).message}`
    }
    const providerLeaf = proven.get(leafIndex)
    let reason: string
    if (unserved !== undefined) reason = unserved
    else if (providerLeaf === undefined)
      reason = 'provider leaf missing or not proven against the committed root'
    else if (providerLeaf.toLowerCase() === replayed?.toLowerCase())
      reason = 'provider leaf matches the re-execution'
    else reason = 'provider leaf differs from the re-execution'
    const providerCheated =
      unserved !== undefined ||
      providerLeaf === undefined ||
      replayed === undefined ||
      providerLeaf.toLowerCase() !== replayed.toLowerCase()
    const { hash } = await chain.serialize(() =>
      resolve(chain.client, { jobMarket: market(), jobId, providerCheated }),
    )
    const decision: ArbiterDecision = {
      jobId,
      leafIndex,
      providerCheated,
      replayed: replayed ?? ('0x' as Hex),
      ...(providerLeaf === undefined ? {} : { providerLeaf }),
      reason,
      txHash: hash,
    }
    decisions.push(decision)
    metrics.resolutions.inc({ provider_cheated: String(providerCheated) })
    log.info({ jobId, leafIndex, providerCheated, reason }, 'dispute resolved')
  }

  function onEvents(events: ProtocolEvent[]): void {
    for (const event of events) if (event.eventName === 'Challenged') startResolve(event.args.jobId)
  }

  async function tick(): Promise<void> {
    for (const jobId of pending) if (!resolving.has(jobId)) startResolve(jobId)
  }

  const ticker = createTicker(options.tickIntervalMs * 5, tick, log)

  return {
    role: 'arbiter',
    async start() {
      unsubscribers.push(chain.onEvents(onEvents))
      // disputes opened while this node was down
      const logs = await chain.client.getContractEvents({
        address: market(),
        abi: jobMarketAbi,
        eventName: 'Challenged',
        fromBlock: chain.deployment.deployBlock,
      })
      for (const l of logs) if (l.args.jobId !== undefined) pending.add(l.args.jobId)
      ticker.start()
    },
    async stop() {
      for (const off of unsubscribers.splice(0)) off()
      await ticker.stop()
      await Promise.allSettled([...resolving.values()])
    },
    tick: () => ticker.now(),
    decisions: () => [...decisions],
  }
}
