/**
 * The checks a job passes before any compute: the replay profile against this host, the
 * model's size, and inference inputs against the model's signature.
 */
import { createHash } from 'node:crypto'
import type { Hex } from 'viem'
import { assertProviderAvailable, ortVersion } from './capabilities.js'
import { ExecutorError } from './errors.js'
import type { ReplayProfile } from './spec.js'
import { checkTensor, elementCount, type NamedTensors } from './tensor.js'
import type { ModelSignature } from './worker-protocol.js'

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

const mismatch = (msg: string, details?: string) =>
  new ExecutorError('EXECUTOR_INPUT_MISMATCH', msg, { details })

/** Checks inputs against the model before any compute; returns the sample count. */
export function validateInputs(
  sig: ModelSignature,
  inputs: NamedTensors,
  microBatchSize: number,
  maxTensorElements: number,
): number {
  const expected = new Set(sig.inputs.map((i) => i.name))
  for (const name of Object.keys(inputs)) {
    if (!expected.has(name)) {
      throw mismatch(
        `input ${name} is not an input of the model`,
        `model inputs: ${[...expected].join(', ')}`,
      )
    }
  }
  let samples: number | undefined
  for (const want of sig.inputs) {
    const got = inputs[want.name]
    if (!got)
      throw mismatch(`the model's input ${want.name} is missing`, `given: ${Object.keys(inputs).join(', ')}`)
    checkTensor(want.name, got)
    if (elementCount(got.dims) > maxTensorElements) {
      throw new ExecutorError(
        'EXECUTOR_TENSOR_TOO_LARGE',
        `input ${want.name} has more elements than allowed`,
        {
          details: `[${got.dims.join(', ')}] > ${maxTensorElements} elements`,
        },
      )
    }
    if (got.dtype !== want.type)
      throw mismatch(`input ${want.name} is ${got.dtype}; the model takes ${want.type}`)
    if (got.dims.length === 0)
      throw mismatch(`input ${want.name} is a scalar; inputs need a sample axis first`)
    if (want.shape) checkShape(want.name, want.shape, got.dims, microBatchSize)
    const n = got.dims[0]!
    if (samples !== undefined && n !== samples) {
      throw mismatch(`inputs disagree on the sample count (${samples} vs ${n} for ${want.name})`)
    }
    samples = n
  }
  if (!samples) throw mismatch('the job has no samples')
  const fixedBatch = sig.inputs.find((i) => typeof i.shape?.[0] === 'number')
  if (fixedBatch && samples % microBatchSize !== 0) {
    throw mismatch(
      `input ${fixedBatch.name} has a fixed batch axis, so the sample count must be a multiple of ${microBatchSize}`,
    )
  }
  return samples
}

/** An input's dims against the model's declared shape; a fixed first axis must be the micro-batch size. */
function checkShape(
  name: string,
  shape: readonly (number | string)[],
  dims: readonly number[],
  microBatchSize: number,
): void {
  if (shape.length !== dims.length) {
    throw mismatch(
      `input ${name} has rank ${dims.length}; the model takes rank ${shape.length}`,
      `model shape [${shape.join(', ')}]`,
    )
  }
  shape.forEach((d, i) => {
    if (typeof d !== 'number') return
    if (i === 0) {
      if (d !== microBatchSize) {
        throw mismatch(
          `input ${name} has a fixed batch axis of ${d}; set the profile's microBatchSize to ${d}`,
        )
      }
    } else if (d !== dims[i]) {
      throw mismatch(`input ${name} has size ${dims[i]} on axis ${i}; the model takes ${d}`)
    }
  })
}
