/**
 * The provider's check of an offer's artifacts before it bids. A bid is a promise to deliver:
 * once awarded, a provider that cannot run the job (inputs that do not fit the model, a
 * dataset without the tensors the spec names, a datanet manifest of another dataset, a
 * model ONNX Runtime refuses) never commits and is slashed as a no-show. Our requester
 * client checks most of this before offering, but an offer is only signed terms from the
 * network: a requester that bypasses those checks (or a check the client does not make)
 * would cost an honest provider its collateral. So, when the artifacts are small, the
 * provider fetches them (the usual size-limited, hash-checked /ocn/artifact fetch, straight
 * into its store, where the execution after the award finds them) and runs the executor's
 * own pre-run checks on them. Nothing here is a new parser: the spec, safetensors and
 * datanet readers and the executor's checks are the ones the execution itself uses.
 */
import type { JobOffer } from '@ocn/protocol'
import type { Hex } from 'viem'
import { type ExecutorError, executorVerdict } from '../../executor/errors.js'
import { decodeSafetensors } from '../../executor/formats/safetensors.js'
import { type JobSpec, parseJobSpec, type TrainingJobSpec } from '../../executor/spec.js'
import type { NamedTensors } from '../../executor/tensor.js'
import { trainingOfferCounts } from '../../executor/training/plan.js'
import { P2PError, P2PErrorCode } from '../../p2p/errors.js'
import { checkAttributionDataset, parseJobDatanet } from '../attribution.js'
import { RoleError } from '../errors.js'
import { generationLeafCount } from '../generation.js'
import type { RoleComponents } from '../shared.js'

/** Why an offer got no bid after its artifacts were checked: the metric's `reason` label. */
export const PREBID_REASONS = [
  /** the requester did not serve an artifact (not found, unreachable, wrong bytes) */
  'artifact-unavailable',
  /** an artifact is larger than the offer declares */
  'artifact-size',
  /** the spec is not a valid job spec */
  'spec-invalid',
  /** the model cannot be loaded (or, training, is not a network the executor fine-tunes) */
  'model-invalid',
  /** the inputs or dataset file is not a valid safetensors file */
  'inputs-invalid',
  /** the inputs do not fit the model, or the dataset lacks what the spec names */
  'inputs-mismatch',
  /** the datanet manifest is not the spec's, not valid, or describes another dataset */
  'manifest-invalid',
  /** the inputs hold another number of samples than the offer prices */
  'sample-count',
  /** the check did not finish within provider.prebidTimeoutMs */
  'timeout',
] as const
export type PrebidReason = (typeof PREBID_REASONS)[number]

/** The offer's job cannot be run as offered; `reason` says which check failed. */
export class PrebidRejection extends RoleError {
  override name = 'PrebidRejection'
  readonly reason: PrebidReason
  constructor(
    reason: PrebidReason,
    shortMessage: string,
    options: { details?: string; cause?: unknown } = {},
  ) {
    super('ROLE_JOB_INVALID', shortMessage, options)
    this.reason = reason
  }
}

/** What the check found: the job runs as offered, or it was not checked (and why). */
export type PrebidOutcome = { checked: true } | { checked: false; why: string }

/**
 * Reasons that speak about the requester's service right now rather than the job's
 * content: a re-offer of the same files is checked again instead of refused from memory.
 */
export function isTransientRejection(reason: PrebidReason): boolean {
  return reason === 'artifact-unavailable' || reason === 'timeout'
}

/**
 * Fetches what the offer's job needs into the store and checks it. Returns whether it was
 * checked; throws PrebidRejection when the job cannot run, and the executor's or the
 * caller's own errors (a timeout, a crashed worker, an abort) when no verdict was reached.
 */
export async function checkOfferArtifacts(
  components: Pick<RoleComponents, 'store' | 'network' | 'executor'>,
  offer: JobOffer,
  options: { maxBytes: number; signal: AbortSignal },
): Promise<PrebidOutcome> {
  const { store, network, executor } = components
  const { terms } = offer
  if (terms.verification !== 0) {
    // a zk job's inputs file is fetched by the prover path; its circuit is checked in bidTerms
    return { checked: false, why: 'zk jobs are not checked before bidding' }
  }
  if (offer.modelBytes > options.maxBytes || offer.inputBytes > options.maxBytes) {
    return { checked: false, why: `artifacts above provider.prebidFetchMaxBytes (${options.maxBytes})` }
  }
  const peers = [offer.requesterPeerId]
  const fetch = async (hash: Hex, what: string, declared: number): Promise<Uint8Array> => {
    const h = hash.toLowerCase() as Hex
    try {
      // the declared size is the limit: a requester serving more than it declared is refused
      await network.artifacts.fetch(h, peers, { signal: options.signal, maxBytes: declared })
    } catch (cause) {
      throw fetchRejection(cause, what, declared, options.signal)
    }
    return store.getBytes(h)
  }
  // the inline spec was checked against terms.specHash when the offer was received
  if (offer.spec !== undefined) await store.putBytes(offer.spec)
  const specBytes = await fetch(terms.specHash, 'job spec', options.maxBytes)
  let spec: JobSpec
  try {
    spec = parseJobSpec(JSON.parse(new TextDecoder().decode(specBytes)))
  } catch (cause) {
    throw new PrebidRejection('spec-invalid', 'the job spec is not valid', {
      cause,
      details: (cause as Error).message,
    })
  }
  const [model, inputBytes] = await Promise.all([
    fetch(terms.modelHash, 'model', offer.modelBytes),
    fetch(terms.inputHash, 'inputs', offer.inputBytes),
  ])
  let inputs: NamedTensors
  try {
    inputs = decodeSafetensors(inputBytes).tensors
  } catch (cause) {
    throw new PrebidRejection('inputs-invalid', 'the inputs file is not a valid safetensors file', {
      cause,
      details: (cause as Error).message,
    })
  }
  if (spec.kind !== 'training') {
    await checkLeafCount(executor, { spec, model, inputs }, terms, options.signal)
    return { checked: true }
  }
  const { rows } = await executorCheck(() =>
    executor.checkTraining({ spec, dataset: inputs, ...('baseModel' in spec.model ? { model } : {}) }),
  )
  // a training offer carries the step count (trainingOfferCounts), from which the chain fixes the
  // number of checkpoints this provider must commit
  const { sampleCount: steps } = trainingOfferCounts(spec, rows)
  if (steps !== terms.sampleCount) {
    throw new PrebidRejection(
      'sample-count',
      'the dataset makes another number of training steps than offered',
      {
        details: `dataset ${rows} rows: ${steps} steps, offer ${terms.sampleCount}`,
      },
    )
  }
  if (spec.attribution !== undefined) {
    const manifestBytes = await fetch(spec.attribution.manifest, 'datanet manifest', options.maxBytes)
    const manifest = roleCheck('manifest-invalid', () =>
      parseJobDatanet(manifestBytes, spec, terms.inputHash),
    )
    // the validation tensors, the rows the manifest covers, the leaves one request carries
    roleCheck('inputs-mismatch', () => checkAttributionDataset(spec, inputs, manifest))
  }
  return { checked: true }
}

/**
 * An inference, sequence or generate job fits its offer: the executor's own check passes and
 * the offer's samples give the leaves the inputs make. Throws PrebidRejection when not.
 */
async function checkLeafCount(
  executor: RoleComponents['executor'],
  job: { spec: Exclude<JobSpec, TrainingJobSpec>; model: Uint8Array; inputs: NamedTensors },
  terms: JobOffer['terms'],
  signal: AbortSignal,
): Promise<void> {
  const { spec, model, inputs } = job
  if (spec.kind === 'sequence') {
    // a sequence offer carries chunks x streams leaves in micro-batches of 1 (submit.ts)
    const { leaves } = await executorCheck(() => executor.checkSequence({ spec, model, inputs }, { signal }))
    if (leaves !== terms.sampleCount) {
      throw new PrebidRejection('sample-count', 'the inputs hold another number of chunks than offered', {
        details: `inputs ${leaves} chunks over all streams, offer ${terms.sampleCount}`,
      })
    }
    return
  }
  if (spec.kind === 'generate') {
    // a generate offer carries prompts x maxNewTokens positions in micro-batches of 1 (submit.ts)
    const leaves = await executorCheck(async () => generationLeafCount(spec, inputs))
    if (leaves !== terms.sampleCount || terms.microBatchSize !== 1) {
      throw new PrebidRejection(
        'sample-count',
        'the prompts and token limit give another leaf count than offered',
        {
          details: `inputs ${leaves} positions (prompts x maxNewTokens), offer ${terms.sampleCount} in micro-batches of ${terms.microBatchSize}`,
        },
      )
    }
    return
  }
  const { samples } = await executorCheck(() => executor.checkInference({ spec, model, inputs }, { signal }))
  if (samples !== terms.sampleCount) {
    throw new PrebidRejection('sample-count', 'the inputs hold another number of samples than offered', {
      details: `inputs ${samples}, offer ${terms.sampleCount}`,
    })
  }
}

/** A RoleError from a shared check, as a rejection for `reason`. */
function roleCheck<T>(reason: PrebidReason, check: () => T): T {
  try {
    return check()
  } catch (cause) {
    if (!(cause instanceof RoleError)) throw cause
    throw new PrebidRejection(reason, cause.shortMessage, {
      cause,
      ...(cause.details === undefined ? {} : { details: cause.details }),
    })
  }
}

/** Maps the executor's verdicts on the job to rejections; its own trouble passes through. */
async function executorCheck<T>(check: () => Promise<T>): Promise<T> {
  try {
    return await check()
  } catch (cause) {
    const reason: PrebidReason | undefined = executorVerdict(cause)
    // a timeout, a crashed worker, a missing device: no verdict on the job itself
    if (reason === undefined) throw cause
    const e = cause as ExecutorError
    throw new PrebidRejection(reason, e.shortMessage, {
      cause,
      ...(e.details === undefined ? {} : { details: e.details }),
    })
  }
}

function fetchRejection(cause: unknown, what: string, limit: number, signal: AbortSignal): unknown {
  // our own deadline or shutdown is no verdict on the requester
  if (signal.aborted) return cause
  if (!(cause instanceof P2PError)) return cause
  const all = [cause, ...(cause.causes ?? [])]
  if (all.some((e) => e.code === P2PErrorCode.TOO_LARGE)) {
    return new PrebidRejection('artifact-size', `the ${what} is larger than the offer declares`, {
      cause,
      details: `limit ${limit} bytes`,
    })
  }
  return new PrebidRejection('artifact-unavailable', `the requester did not serve the ${what}`, {
    cause,
    details: cause.details ?? cause.shortMessage,
  })
}
