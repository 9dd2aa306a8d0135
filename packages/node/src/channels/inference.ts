/**
 * One paid request, from its frame to its answer: decode it, find the model, take the
 * voucher, run the model. Every refusal is an answer the requester can act on, never a
 * broken stream.
 */
import type { Hex } from 'viem'
import type { Logger } from '../core/logger.js'
import { ortVersion } from '../executor/capabilities.js'
import type { Executor } from '../executor/executor.js'
import { cpuReplayProfile } from '../executor/spec.js'
import { ChannelError, ChannelErrorCode } from './errors.js'
import type { ChannelServerOptions } from './options.js'
import { rejection, type VoucherAcceptance } from './voucher-acceptance.js'
import { decodeInferRequest, type InferRequest, type InferResponse } from './wire.js'

export interface ServedModel {
  /** ONNX model bytes */
  model: Uint8Array
  /** OPEN wei each request must add to the cumulative voucher */
  pricePerRequest: bigint
  /** outputs returned, default all */
  outputs?: string[]
}

export interface InferenceServiceInit {
  models: ReadonlyMap<Hex, ServedModel>
  executor: Executor
  vouchers: VoucherAcceptance
  options: Pick<ChannelServerOptions, 'maxSamplesPerRequest' | 'inferenceTimeoutMs'>
  log: Logger
}

/** Answers one request frame. */
export function createInferenceService(
  init: InferenceServiceInit,
): (frame: Uint8Array) => Promise<InferResponse> {
  const { models, executor, vouchers, options, log } = init

  async function run(
    served: ServedModel,
    request: InferRequest,
    samples: number,
    accepted: bigint,
  ): Promise<InferResponse> {
    try {
      const result = await executor.runInference(
        {
          spec: {
            kind: 'inference',
            profile: cpuReplayProfile(ortVersion(), samples),
            ...(served.outputs === undefined ? {} : { outputs: served.outputs }),
          },
          model: served.model,
          inputs: request.inputs,
        },
        { timeoutMs: options.inferenceTimeoutMs },
      )
      return { ok: true, outputs: result.outputs ?? {}, accepted }
    } catch (error) {
      // The voucher stays accepted: the requester signed for this request. The message
      // tells it why, so it can decide whether to go on with this provider.
      log.debug({ err: error }, 'inference failed')
      const message = (error as { shortMessage?: string }).shortMessage ?? 'the model failed on these inputs'
      return rejection(ChannelErrorCode.INFERENCE_FAILED, message)
    }
  }

  return async (frame) => {
    let request: InferRequest
    try {
      request = decodeInferRequest(frame)
    } catch (error) {
      return rejection(
        ChannelErrorCode.BAD_REQUEST,
        error instanceof ChannelError ? (error.details ?? '') : 'malformed',
      )
    }
    const served = models.get(request.modelHash)
    if (!served)
      return rejection(ChannelErrorCode.UNKNOWN_MODEL, `this provider does not serve ${request.modelHash}`)
    const first = Object.values(request.inputs)[0]
    const samples = first?.dims[0] ?? 0
    if (first === undefined || samples === 0 || samples > options.maxSamplesPerRequest) {
      return rejection(
        ChannelErrorCode.BAD_REQUEST,
        `a request holds 1 to ${options.maxSamplesPerRequest} samples`,
      )
    }
    const verdict = await vouchers.accept(request.voucher, served.pricePerRequest)
    if (typeof verdict !== 'bigint') return verdict
    return run(served, request, samples, verdict)
  }
}
