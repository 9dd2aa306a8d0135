/**
 * The checks a job passes before any compute: the replay profile against this host and the
 * model's size (inputs against the model's signature: input-axes.ts).
 */
import { createHash } from 'node:crypto'
import type { Hex } from 'viem'
import { assertProviderAvailable, ortVersion } from './capabilities.js'
import { ExecutorError } from './errors.js'
import type { ReplayProfile } from './spec.js'

const modelHashes = new WeakMap<Uint8Array, Hex>()

/** SHA-256 of the model bytes: the key sessions are cached under. Remembered per buffer (model buffers must not change once handed over). */
export function modelHash(model: Uint8Array): Hex {
  let hash = modelHashes.get(model)
  if (!hash) {
    hash = `0x${createHash('sha256').update(model).digest('hex')}`
    modelHashes.set(model, hash)
  }
  return hash
}

export function checkProfile(profile: ReplayProfile): void {
  if (profile.ortVersion !== ortVersion()) {
    throw new ExecutorError(
      'EXECUTOR_SPEC_INVALID',
      `the job pins ONNX Runtime ${profile.ortVersion}; this host runs ${ortVersion()}`,
      {
        details: 'results are bit-exact only under the same ONNX Runtime version',
      },
    )
  }
  assertProviderAvailable(profile.executionProvider)
}

/** Rejects a model over the size limit; returns its hash. */
export function checkModel(model: Uint8Array, maxModelBytes: number): Hex {
  if (model.byteLength > maxModelBytes) {
    throw new ExecutorError('EXECUTOR_MODEL_TOO_LARGE', 'the model is larger than this executor accepts', {
      details: `${model.byteLength} bytes > ${maxModelBytes}`,
    })
  }
  return modelHash(model)
}
