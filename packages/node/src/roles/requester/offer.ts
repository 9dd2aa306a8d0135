/**
 * Offering a job: the signed offer is recorded, published on gossip, and the award is
 * started when bid collection closes, an award grace before the offer's bidding end.
 * Re-offers (by hand, or automatic when a job dies: no usable bid, no award, a no-show, an
 * expiry) publish the same job again under a new id, without the no-shows of earlier rounds.
 * An automatic re-offer is recorded on the dead job before it is due, so the tick finds it
 * again after a restart: no job that dies is left without its re-offer while its budget lasts.
 */
import {
  createIdentityBinding,
  decodeJobOffer,
  encodeJobOffer,
  type JobOffer,
  jobIdOf,
  type OfferTerms,
  offerTypedData,
} from '@ocn/protocol'
import { bytesToHex, type Hex, hexToBytes } from 'viem'
import type { OfferSummary } from '../../api/interface.js'
import { type RequesterJobDetail, requesterDetail } from '../../state/job-detail.js'
import type { JobRecord } from '../../state/records.js'
import type { TransitionJobParameters } from '../../state/store.js'
import { RoleError } from '../errors.js'
import type { SubmitJobResult } from '../interface.js'
import { describeModelStatus, unapprovedStatus } from '../models.js'
import { randomOfferSalt } from '../shared.js'
import { ensureOfferFunded } from './allowance.js'
import { jobMarket, type RequesterContext } from './context.js'

/**
 * What a job's move to failed or expired also writes when the job will be offered again
 * automatically: the re-offer's due time, in the same write as the death, so no reader (the
 * tick after a restart, a client or the devnet following re-offers) sees the job dead and
 * final in between, when its re-offer is still to come. Nothing when the retry budget
 * (requester.noBidReoffers, as RequesterOffers.canReoffer) is spent or a re-offer is recorded.
 */
export function reofferDuePatch(
  job: JobRecord,
  noBidReoffers: number,
  delayMs: number,
): Pick<TransitionJobParameters, 'patch'> {
  const detail = requesterDetail(job)
  if (job.attempts > noBidReoffers || detail.reofferDueAt !== undefined || detail.reofferedAs !== undefined)
    return {}
  return { patch: { detail: { ...detail, reofferDueAt: Date.now() + delayMs } } }
}

/** An offer's terms before publishing fixes its requester, windows and salt. */
export type OfferBase = Omit<OfferTerms, 'requester' | 'biddingEnds' | 'deadline' | 'salt'>

export class RequesterOffers {
  /** re-offers under way, by the dead job's id */
  private readonly inFlight = new Map<string, Promise<SubmitJobResult>>()

  /** `biddingClosed` starts the award of a job once its bid collection has closed */
  constructor(
    private readonly context: RequesterContext,
    private readonly biddingClosed: (jobId: string) => void,
  ) {}

  async publish(
    base: OfferBase,
    spec: Uint8Array,
    sizes: { modelBytes: number; inputBytes: number },
    extra: { attempts?: number; reofferOf?: string; excludedProviders?: string[] },
  ): Promise<SubmitJobResult> {
    const { state, chain, network, keys, options, log, timers } = this.context
    // every submission and re-offer passes here, so none publishes a model the policy refuses
    if (options.models.onlyApproved) await this.requireApprovedModel(base.modelHash)
    const now =
      (await chain.chainTime()) > BigInt(Math.floor(Date.now() / 1000))
        ? await chain.chainTime()
        : BigInt(Math.floor(Date.now() / 1000))
    // bids are collected for the bidding window; the award grace after it is for the award
    // (and the fall-backs to the next bids) to land: the market refuses awards after biddingEnds
    const windowSeconds = BigInt(Math.ceil((options.biddingWindowMs + options.awardGraceMs) / 1000))
    const biddingEnds = now + windowSeconds
    const terms: OfferTerms = {
      ...base,
      requester: keys.account.address,
      biddingEnds,
      deadline: biddingEnds + BigInt(options.executionWindowSeconds),
      salt: randomOfferSalt(),
    }
    const jobId = jobIdOf(terms)
    const signature = await keys.account.signTypedData(offerTypedData(chain.domain, terms))
    const offer: JobOffer = {
      version: 1,
      chainId: chain.deployment.chainId,
      market: jobMarket(this.context),
      terms,
      requesterPeerId: network.peerId,
      requesterBinding: await createIdentityBinding(keys.account, keys.privateKey),
      signature,
      modelBytes: sizes.modelBytes,
      inputBytes: sizes.inputBytes,
      spec,
    }
    const detail: RequesterJobDetail = {
      role: 'requester',
      offer: bytesToHex(encodeJobOffer(offer)),
      biddingClosesAt: Date.now() + options.biddingWindowMs,
      ...(extra.reofferOf === undefined ? {} : { reofferOf: extra.reofferOf }),
      ...(extra.excludedProviders === undefined || extra.excludedProviders.length === 0
        ? {}
        : { excludedProviders: extra.excludedProviders }),
    }
    // peers drop offers whose maxPrice neither the market balance nor the allowance covers
    await chain.serialize(() => ensureOfferFunded(this.context, terms.maxPrice))
    await state.createJob({
      id: jobId,
      role: 'requester',
      state: 'offered',
      kind: terms.kind === 1 ? 'training' : 'inference',
      verification: terms.verification === 1 ? 'zk' : 'replay',
      modelHash: terms.modelHash,
      inputHash: terms.inputHash,
      requester: keys.account.address,
      maxPrice: terms.maxPrice,
      ...(extra.attempts === undefined ? {} : { attempts: extra.attempts }),
      detail: detail,
    })
    await state.transitionJob(jobId, 'bidding')
    await network.gossip.publishOffer(offer)
    log.info({ jobId, samples: terms.sampleCount, maxPrice: terms.maxPrice.toString() }, 'offer published')
    timers.after(options.biddingWindowMs, () => this.biddingClosed(jobId))
    return { jobId }
  }

  /**
   * Puts an expired, failed or slashed job on the market again under a new job id (by hand).
   * A job already offered again (automatically, or by an earlier call) answers with that offer:
   * the work is on the market once, and escrowed once.
   */
  async reoffer(jobId: string): Promise<SubmitJobResult> {
    const job = await this.context.state.getJob(jobId)
    if (job === undefined || job.role !== 'requester') {
      throw new RoleError('ROLE_UNKNOWN_JOB', `no job ${jobId} was submitted by this node`)
    }
    if (!['expired', 'failed', 'slashed'].includes(job.state)) {
      throw new RoleError(
        'ROLE_JOB_STATE',
        `job ${jobId} is ${job.state}; only expired, failed or slashed jobs are re-offered`,
      )
    }
    return this.reofferOnce(jobId)
  }

  /**
   * The one re-offer of a dead job: a job already offered again answers with that offer, and
   * a re-offer under way is joined, so by hand, timer and tick never put the work on the
   * market twice (nor escrow it twice).
   */
  private reofferOnce(jobId: string): Promise<SubmitJobResult> {
    const running = this.inFlight.get(jobId)
    if (running !== undefined) return running
    const { state } = this.context
    const run = (async () => {
      const job = await state.requireJob(jobId)
      const done = requesterDetail(job).reofferedAs
      if (done !== undefined) return { jobId: done }
      const published = await this.reofferedBeforeCrash(jobId)
      const next = published ?? (await this.republish(job, this.deadProvider(job))).jobId
      const fresh = await state.requireJob(jobId)
      await state.updateJob(jobId, { detail: { ...requesterDetail(fresh), reofferedAs: next } })
      this.context.log.info({ jobId, reofferedAs: next, state: job.state }, 'job offered again')
      return { jobId: next }
    })().finally(() => this.inFlight.delete(jobId))
    this.inFlight.set(jobId, run)
    return run
  }

  /** The same work as `job`, offered anew; its no-shows (and `job`'s provider when it is one) left out. */
  private async republish(job: JobRecord, noShow?: string): Promise<SubmitJobResult> {
    const detail = requesterDetail(job)
    const old = decodeJobOffer(hexToBytes(detail.offer))
    const { requester: _r, biddingEnds: _b, deadline: _d, salt: _s, ...base } = old.terms
    const excluded = new Set(detail.excludedProviders ?? [])
    if (noShow !== undefined) excluded.add(noShow.toLowerCase())
    return this.publish(base, old.spec ?? new Uint8Array(), old, {
      attempts: job.attempts + 1,
      reofferOf: job.id,
      excludedProviders: [...excluded],
    })
  }

  /** Whether a job that died now may be offered again: attempts left in requester.noBidReoffers. */
  canReoffer(job: JobRecord): boolean {
    return job.attempts <= this.context.options.noBidReoffers
  }

  /**
   * Schedules the automatic re-offer of a job that died, `delayMs` from now, unless its retry
   * budget is spent or it was re-offered already. Returns whether a re-offer is (or was) due.
   */
  async reofferLater(job: JobRecord, delayMs: number): Promise<boolean> {
    const { state, timers } = this.context
    const detail = requesterDetail(job)
    if (detail.reofferedAs !== undefined) return true
    if (!this.canReoffer(job)) return false
    if (detail.reofferDueAt === undefined) {
      await state.updateJob(job.id, { detail: { ...detail, reofferDueAt: Date.now() + delayMs } })
    }
    timers.after(delayMs, () => this.reofferDue(job.id))
    return true
  }

  /** Re-offers the job now if its automatic re-offer is due and not done (timers and the tick call it). */
  reofferDue(jobId: string): void {
    const { state, log } = this.context
    if (this.inFlight.has(jobId)) return
    state
      .requireJob(jobId)
      .then((job) => {
        const detail = requesterDetail(job)
        if (detail.reofferedAs !== undefined || detail.reofferDueAt === undefined) return
        if (Date.now() < detail.reofferDueAt) return
        return this.reofferOnce(jobId)
      })
      .catch((err: unknown) => log.error({ jobId, err }, 'automatic re-offer failed; the tick tries again'))
  }

  /**
   * The re-offer of `jobId` that was published before a crash cut off the write of
   * `reofferedAs` (the new job names its origin in `reofferOf`): found, it is recorded instead
   * of putting the work on the market a second time.
   */
  private async reofferedBeforeCrash(jobId: string): Promise<string | undefined> {
    const jobs = await this.context.state.listJobs({ role: 'requester' })
    return jobs.find((j) => requesterDetail(j).reofferOf === jobId)?.id
  }

  /** The provider a dead job was awarded to (an expiry's no-show), left out of the next round. */
  private deadProvider(job: JobRecord): string | undefined {
    return job.state === 'awarded' || job.state === 'expired' ? job.provider : undefined
  }

  /** The jobs this requester has open for bids, as the API lists offers. */
  async open(): Promise<OfferSummary[]> {
    const jobs = await this.context.state.listJobs({ role: 'requester', state: 'bidding' })
    return jobs.map((job) => {
      const offer = decodeJobOffer(hexToBytes(requesterDetail(job).offer))
      return {
        jobId: job.id,
        requester: offer.terms.requester,
        kind: job.kind,
        verification: job.verification,
        maxPrice: offer.terms.maxPrice,
        minStake: offer.terms.minCollateral,
        biddingEndsAt: Number(offer.terms.biddingEnds) * 1000,
        receivedAt: job.createdAt,
      }
    })
  }

  /** requester.models.onlyApproved: refuses a model the registry does not list as Approved. */
  private async requireApprovedModel(modelHash: Hex): Promise<void> {
    const { chain, metrics } = this.context
    // a fresh read: submitting is rare and a stale "approved" would publish a revoked model
    const status = await unapprovedStatus(chain, modelHash, { maxAgeMs: 0 })
    if (status === undefined) return
    metrics.unapprovedModelJobs.inc({ stage: 'submit', status })
    throw new RoleError(
      'ROLE_MODEL_NOT_APPROVED',
      `model ${modelHash} is ${describeModelStatus(status)} in the model registry, not approved`,
      {
        details:
          'requester.models.onlyApproved accepts approved models only: have the model curator approve it (docs/governance.md, "Model registry"), or turn the option off',
      },
    )
  }
}
