/**
 * The verifier role: watches result commitments, waits for the first block after the commit,
 * draws the micro-batches to check from that block's hash and the job id (so the provider
 * could not know them when it committed), re-executes them under the job's replay profile,
 * compares them with the provider's leaves, and challenges on a mismatch or when the provider
 * will not serve its leaves. Each check leaves a report on the job record: indices, detection
 * probability, cost.
 */
import { approveToken, challenge, getJob, getMarketParams, type ProtocolEvent } from '@ocn/contracts-client'
import { type LeafClaim, sampleIndices, samplesForDetection, spotCheck } from '@ocn/prover'
import type { Hex } from 'viem'
import type { RoleService } from '../api/services.js'
import { type VerificationReport, type VerifierJobDetail, verifierDetail } from '../state/job-detail.js'
import type { JobRecord } from '../state/records.js'
import { createRoleMetrics } from './metrics.js'
import {
  type AwardedJob,
  attributionIndexOf,
  createTicker,
  findAwardedJob,
  type JobAssets,
  leavesNeeded,
  loadJobAssets,
  type RoleComponents,
  replayFor,
  roleOptions,
} from './shared.js'

export interface VerifierRole extends RoleService {
  readonly role: 'verifier'
  tick(): Promise<void>
}

export function createVerifierRole(components: RoleComponents): VerifierRole {
  const { config, state, chain, network, keys, directory } = components
  const options = roleOptions(components)
  const metrics = createRoleMetrics(components.metrics)
  const log = components.logger.child({ role: 'verifier' })
  const me = keys.account.address.toLowerCase()
  const checking = new Map<string, Promise<void>>()
  const unsubscribers: Array<() => void> = []
  const market = () => chain.deployment.addresses.jobMarket
  const detailOf = verifierDetail

  async function record(award: AwardedJob, commitBlock: bigint | undefined): Promise<JobRecord> {
    const existing = await state.getJob(award.jobId)
    if (existing !== undefined) return existing
    const detail: VerifierJobDetail = {
      role: 'verifier',
      award,
      ...(commitBlock === undefined ? {} : { commitBlock }),
    }
    return state.createJob({
      id: award.jobId,
      role: 'verifier',
      state: commitBlock === undefined ? 'awarded' : 'committed',
      kind: award.kind === 1 ? 'training' : 'inference',
      verification: award.verification === 1 ? 'zk' : 'replay',
      modelHash: award.modelHash,
      inputHash: award.inputHash,
      requester: award.requester,
      provider: award.provider,
      price: award.price,
      collateral: award.collateral,
      detail: detail,
    })
  }

  const ours = (award: { provider: string; requester: string }) =>
    award.provider.toLowerCase() === me || award.requester.toLowerCase() === me

  async function onEvents(events: ProtocolEvent[]): Promise<void> {
    for (const event of events) {
      if (event.eventName === 'JobAwarded') {
        const award = { ...event.args, blockNumber: event.blockNumber } as AwardedJob
        if (!ours(award)) await record(award, undefined)
      } else if (event.eventName === 'ResultCommitted') {
        const { jobId } = event.args
        let job = await state.getJob(jobId)
        if (job === undefined) {
          const award = await findAwardedJob(chain, jobId)
          if (award === undefined || ours(award)) continue
          job = await record(award, event.blockNumber)
        } else if (job.role === 'verifier' && job.state === 'awarded') {
          job = await state.transitionJob(jobId, 'committed', {
            patch: {
              resultRoot: event.args.resultRoot,
              detail: { ...detailOf(job), commitBlock: event.blockNumber },
            },
          })
        }
        if (job.role === 'verifier') startCheck(jobId)
      } else if (
        event.eventName === 'JobFinalized' ||
        event.eventName === 'ChallengeResolved' ||
        event.eventName === 'JobExpired' ||
        event.eventName === 'Challenged'
      ) {
        const job = await state.getJob(event.args.jobId)
        if (job?.role === 'verifier') await reconcile(job)
      }
    }
  }

  async function reconcile(job: JobRecord): Promise<void> {
    const onChain = await getJob(chain.client, { jobMarket: market(), jobId: job.id as Hex })
    if (onChain.status === 'finalized' && (job.state === 'committed' || job.state === 'challenged')) {
      await state.transitionJob(job.id, 'finalized')
    } else if (
      onChain.status === 'providerSlashed' &&
      (job.state === 'committed' || job.state === 'challenged')
    ) {
      await state.transitionJob(job.id, 'slashed')
    } else if (onChain.status === 'challenged' && job.state === 'committed') {
      await state.transitionJob(job.id, 'challenged', { note: 'challenged by another verifier' })
    } else if (onChain.status === 'expired' && job.state === 'awarded') {
      await state.transitionJob(job.id, 'expired')
    } else if (job.state === 'committed' && detailOf(job).report === undefined) {
      startCheck(job.id)
    }
  }

  function startCheck(jobId: string): void {
    if (checking.has(jobId)) return
    const run = check(jobId as Hex)
      .catch((err: unknown) => log.warn({ jobId, err }, 'verification failed; will retry'))
      .finally(() => checking.delete(jobId))
    checking.set(jobId, run)
  }

  /** The hash of the first block after the commit: randomness the provider could not know. */
  async function randomnessAfter(commitBlock: bigint): Promise<{ hash: Hex; block: bigint } | undefined> {
    const block = commitBlock + 1n
    if ((await chain.blockNumber()) < block) return undefined
    const hash = await chain.blockHash(block)
    return hash === undefined ? undefined : { hash, block }
  }

  async function check(jobId: Hex): Promise<void> {
    const job = await state.requireJob(jobId)
    const detail = detailOf(job)
    if (job.state !== 'committed' || detail.report !== undefined || detail.commitBlock === undefined) return
    const award = detail.award
    if (award.verification !== 0) return
    const onChain = await getJob(chain.client, { jobMarket: market(), jobId })
    if (onChain.status !== 'committed') return reconcile(job)
    if ((await chain.chainTime()) >= BigInt(onChain.challengeEnds)) return
    const randomness = await randomnessAfter(detail.commitBlock)
    if (randomness === undefined) return // the tick comes back once the next block exists
    const providerPeer = directory.providerPeer(award.provider)
    if (
      providerPeer === undefined &&
      BigInt(onChain.challengeEnds) - (await chain.chainTime()) > BigInt(options.unknownPeerGraceSeconds)
    ) {
      log.debug({ jobId, provider: award.provider }, 'provider peer not known yet; waiting for its ad')
      return
    }
    const requesterPeer = directory.requesterPeer(jobId)
    const peers = [providerPeer, requesterPeer].filter((p): p is string => p !== undefined)
    let assets: JobAssets
    try {
      assets = await loadJobAssets(components, award, peers)
    } catch (err) {
      log.warn({ jobId, err }, 'job artifacts unavailable; cannot verify yet')
      return
    }
    const n = onChain.leafCount
    const target = config.verifier.targetDetectionProbability
    const k = Math.min(n, config.verifier.maxSamplesPerJob, samplesForDetection(n, 1 / n, target))
    const indices = sampleIndices(randomness.hash, jobId, n, k)
    const kind = assets.spec.kind

    // the provider's claims for exactly the sampled leaves, checked against the committed root
    let claims: Map<number, LeafClaim> | undefined
    let outputHash: Hex | undefined
    let unserved: string | undefined
    if (providerPeer === undefined) unserved = 'provider peer unknown'
    else {
      try {
        const response = await network.results.requestResult(providerPeer, {
          version: 1,
          jobId,
          indices: leavesNeeded(kind, indices, attributionIndexOf(assets)),
        })
        if (response.status !== 'ok' || response.result === undefined)
          unserved = `provider answered ${response.status}`
        else if (response.result.resultRoot.toLowerCase() !== onChain.resultRoot.toLowerCase())
          unserved = 'provider serves another root than it committed'
        else {
          outputHash = response.result.outputHash
          claims = new Map(
            response.result.leaves.map((l) => [l.index, { dataHash: l.dataHash, proof: l.proof }]),
          )
        }
      } catch (err) {
        unserved = `provider did not serve leaves: ${(err as Error).message}`
      }
    }

    const replay = await replayFor(components, assets, {
      peer: providerPeer,
      outputHash,
      leaf: (i) => claims?.get(i)?.dataHash,
    })
    let report: VerificationReport
    let evidence: { index: number; replayed: Hex } | undefined
    if (claims === undefined) {
      // no leaves: replay the first sampled micro-batch so the challenge names a correct hash
      const started = performance.now()
      // training: segment 0 (the initial state) needs nothing from the provider
      const index = kind === 'training' ? 0 : indices[0]!
      const replayed =
        kind === 'training' ? await replay.runTrainingSegment(index) : await replay.runMicroBatch(index)
      evidence = { index, replayed }
      report = {
        checkedIndices: [index],
        leafCount: n,
        samples: 1,
        detectionProbability: 0,
        passed: false,
        mismatches: [{ index, reason: 'not-served', replayed }],
        costMs: performance.now() - started,
        randomnessBlock: randomness.block.toString(),
        unserved: unserved ?? 'no leaves',
      }
    } else {
      const served = claims
      const result = await spotCheck({
        kind,
        jobId,
        randomness: randomness.hash,
        root: onChain.resultRoot,
        leafCount: n,
        samples: k,
        claim: (i) => {
          const c = served.get(i)
          if (c === undefined) throw new Error(`leaf ${i} not served`)
          return c
        },
        executor: replay,
      })
      report = {
        checkedIndices: result.checkedIndices,
        leafCount: n,
        samples: k,
        detectionProbability: result.detectionProbability,
        passed: result.passed,
        mismatches: result.mismatches.map((m) => ({
          index: m.index,
          reason: m.reason,
          claimed: m.claimed,
          ...('replayed' in m ? { replayed: m.replayed } : {}),
        })),
        costMs: result.costMs,
        randomnessBlock: randomness.block.toString(),
      }
      const bad = result.mismatches.find((m) => m.reason === 'different-result')
      if (bad !== undefined && 'replayed' in bad) evidence = { index: bad.index, replayed: bad.replayed }
    }
    await state.updateJob(jobId, {
      detail: { ...detail, report },
    })
    metrics.checks.inc({ result: report.passed ? 'passed' : 'failed' })
    metrics.checkSeconds.observe(report.costMs / 1000)
    log.info(
      { jobId, passed: report.passed, checked: report.checkedIndices.length, p: report.detectionProbability },
      'verification report',
    )
    if (evidence === undefined) return
    const now = await getJob(chain.client, { jobMarket: market(), jobId })
    if (now.status !== 'committed') return reconcile(await state.requireJob(jobId))
    const { hash } = await chain.serialize(async () => {
      await approveToken(chain.client, {
        token: chain.deployment.addresses.token,
        spender: market(),
        // the bond as the market asks it now (governance may have changed it since deployment)
        amount: (
          await getMarketParams(chain.client, {
            jobMarket: market(),
            stakeManager: chain.deployment.addresses.stakeManager,
          })
        ).minChallengeBond,
      })
      return challenge(chain.client, {
        jobMarket: market(),
        jobId,
        leafIndex: BigInt(evidence.index),
        claimedDataHash: evidence.replayed,
      })
    })
    await state.transitionJob(jobId, 'challenged', { txHash: hash, note: `leaf ${evidence.index} disputed` })
    metrics.challenges.inc()
    log.warn({ jobId, leaf: evidence.index }, 'challenged a faked result')
  }

  async function tick(): Promise<void> {
    const jobs = await state.listJobs({ role: 'verifier' })
    for (const job of jobs) {
      if (job.state !== 'committed' && job.state !== 'challenged' && job.state !== 'awarded') continue
      if (checking.has(job.id)) continue
      await reconcile(job).catch((err: unknown) => log.warn({ jobId: job.id, err }, 'reconcile failed'))
    }
  }

  const ticker = createTicker(options.tickIntervalMs, tick, log)

  return {
    role: 'verifier',
    async start() {
      unsubscribers.push(chain.onEvents(onEvents))
      ticker.start()
    },
    async stop() {
      for (const off of unsubscribers.splice(0)) off()
      await ticker.stop()
      await Promise.allSettled([...checking.values()])
    },
    tick: () => ticker.now(),
  }
}
