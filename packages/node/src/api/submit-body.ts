/** The body of `POST /jobs`: what a client may send, and nothing else. */
import { stat } from 'node:fs/promises'
import { isAbsolute } from 'node:path'
import { isUploadId } from '@ocn/protocol/api'
import { ApiError } from './errors.js'
import type { GenerateRequest, SubmitJobRequest } from './interface.js'

const SUBMIT_FIELDS = new Set([
  'modelPath',
  'inputsPath',
  'kind',
  'trainingSpecPath',
  'datanetManifestPath',
  'verification',
  'maxPrice',
  'microBatchSize',
  'inputAxes',
  'state',
  'generate',
  'modelUpload',
  'inputsUpload',
  'trainingSpecUpload',
  'datanetManifestUpload',
])

/** The file fields of a submission: each a path on the node or an upload's id. */
const FILE_FIELDS = ['model', 'inputs', 'trainingSpec', 'datanetManifest'] as const

/** The uploads a submission names (they are deleted once the job is taken). */
export function uploadIdsIn(body: unknown): string[] {
  const raw = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>
  return FILE_FIELDS.map((field) => raw[`${field}Upload`]).filter((id): id is string => isUploadId(id))
}

/** Finds a finished upload's file; undefined when the id is unknown, unfinished or expired. */
export type UploadResolver = (id: string) => string | undefined

/** Checks a `POST /jobs` body field by field, so a client learns exactly what is wrong. */
export async function parseSubmitJobBody(
  body: unknown,
  resolveUpload: UploadResolver = () => undefined,
): Promise<SubmitJobRequest> {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new ApiError('API_BAD_REQUEST', 'the body must be a JSON object')
  const raw = body as Record<string, unknown>
  for (const key of Object.keys(raw)) {
    if (!SUBMIT_FIELDS.has(key)) throw new ApiError('API_BAD_REQUEST', `unknown field "${key}"`)
  }
  const file = async (
    field: (typeof FILE_FIELDS)[number],
    required: boolean,
  ): Promise<string | undefined> => {
    const name = `${field}Path`
    const upload = raw[`${field}Upload`]
    if (upload !== undefined) {
      if (raw[name] !== undefined)
        throw new ApiError('API_BAD_REQUEST', `send ${name} or ${field}Upload, not both`)
      const path = isUploadId(upload) ? resolveUpload(upload) : undefined
      if (path === undefined)
        throw new ApiError(
          'API_BAD_REQUEST',
          `${field}Upload: no finished upload ${String(upload).slice(0, 40)}`,
          {
            details:
              'upload the file first (POST /uploads, its last chunk with final=1); unused uploads expire',
          },
        )
      return path
    }
    const value = raw[name]
    if (value === undefined && !required) return undefined
    if (typeof value !== 'string' || value === '' || value.length > 4096 || !isAbsolute(value))
      throw new ApiError(
        'API_BAD_REQUEST',
        `${name} must be an absolute path on the node's machine (or send ${field}Upload, an upload's id)`,
      )
    let isFile = false
    try {
      isFile = (await stat(value)).isFile()
    } catch {
      throw new ApiError('API_BAD_REQUEST', `${name}: no file at ${value}`)
    }
    if (!isFile) throw new ApiError('API_BAD_REQUEST', `${name}: ${value} is not a file`)
    return value
  }
  const kind = raw.kind ?? 'inference'
  if (kind !== 'inference' && kind !== 'training')
    throw new ApiError('API_BAD_REQUEST', 'kind must be "inference" or "training"')
  const verification = raw.verification ?? 'replay'
  if (verification !== 'replay' && verification !== 'zk')
    throw new ApiError('API_BAD_REQUEST', 'verification must be "replay" or "zk"')
  const request: SubmitJobRequest = {
    modelPath: (await file('model', true))!,
    inputsPath: (await file('inputs', true))!,
    kind,
    verification,
  }
  const spec = await file('trainingSpec', kind === 'training')
  if (spec !== undefined) {
    if (kind !== 'training')
      throw new ApiError('API_BAD_REQUEST', 'a training spec is only for kind "training"')
    request.trainingSpecPath = spec
  }
  const datanet = await file('datanetManifest', false)
  if (datanet !== undefined) {
    if (kind !== 'training')
      throw new ApiError('API_BAD_REQUEST', 'a datanet manifest is only for kind "training"')
    request.datanetManifestPath = datanet
  }
  if (raw.maxPrice !== undefined) {
    if (typeof raw.maxPrice !== 'string' || !/^[1-9]\d{0,77}$/.test(raw.maxPrice))
      throw new ApiError(
        'API_BAD_REQUEST',
        'maxPrice must be a positive integer in token base units, as a string',
      )
    request.maxPrice = BigInt(raw.maxPrice)
  }
  if (raw.microBatchSize !== undefined) {
    const size = raw.microBatchSize
    if (typeof size !== 'number' || !Number.isInteger(size) || size < 1 || size > 1_000_000)
      throw new ApiError('API_BAD_REQUEST', 'microBatchSize must be an integer from 1 to 1000000')
    request.microBatchSize = size
  }
  if (raw.inputAxes !== undefined) request.inputAxes = parseInputAxesField(raw.inputAxes)
  if (raw.state !== undefined) {
    if (kind !== 'inference' || verification !== 'replay')
      throw new ApiError('API_BAD_REQUEST', 'state (a sequence job) goes with kind "inference" and replay')
    request.state = parseStateField(raw.state)
  }
  if (raw.generate !== undefined) {
    if (kind !== 'inference' || verification !== 'replay' || request.state !== undefined)
      throw new ApiError('API_BAD_REQUEST', 'generate goes with kind "inference", replay and no state')
    request.generate = parseGenerateField(raw.generate)
  }
  return request
}

/**
 * The shape of a generate request; the values themselves (ranges, greedy without topK or
 * topP) are checked by the job spec's parser at submit, whose errors name the field.
 */
function parseGenerateField(v: unknown): GenerateRequest {
  const bad = (what: string) => new ApiError('API_BAD_REQUEST', `generate.${what}`)
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw new ApiError('API_BAD_REQUEST', 'generate must be an object { "maxNewTokens": n, ... }')
  const { maxNewTokens, stopTokens, sampling, seed, tieTolerance, ...rest } = v as Record<string, unknown>
  const unknown = Object.keys(rest)[0]
  if (unknown !== undefined) throw bad(`${unknown} is not a known field`)
  if (typeof maxNewTokens !== 'number') throw bad('maxNewTokens must be a number')
  const out: GenerateRequest = { maxNewTokens }
  if (stopTokens !== undefined) {
    if (
      !Array.isArray(stopTokens) ||
      stopTokens.length > 64 ||
      !stopTokens.every((t) => typeof t === 'number')
    )
      throw bad('stopTokens must be a list of at most 64 token ids')
    out.stopTokens = stopTokens
  }
  if (sampling !== undefined) {
    const s = sampling as Record<string, unknown> | null
    if (typeof s !== 'object' || s === null || typeof s.temperature !== 'number')
      throw bad('sampling must be { "temperature": t, "topK"?: k, "topP"?: p }')
    out.sampling = sampling as NonNullable<GenerateRequest['sampling']>
  }
  if (seed !== undefined) {
    if (typeof seed !== 'string') throw bad('seed must be a string')
    out.seed = seed
  }
  if (tieTolerance !== undefined) {
    if (typeof tieTolerance !== 'number') throw bad('tieTolerance must be a number')
    out.tieTolerance = tieTolerance
  }
  return out
}

const VALUE_NAME = /^[A-Za-z0-9_.:/-]{1,128}$/

function parseInputAxesField(v: unknown): NonNullable<SubmitJobRequest['inputAxes']> {
  if (typeof v !== 'object' || v === null || Array.isArray(v) || Object.keys(v).length > 256)
    throw new ApiError('API_BAD_REQUEST', 'inputAxes must be an object of input name to axis or "broadcast"')
  const out: NonNullable<SubmitJobRequest['inputAxes']> = {}
  for (const [name, axis] of Object.entries(v)) {
    if (
      !VALUE_NAME.test(name) ||
      !(axis === 'broadcast' || (Number.isInteger(axis) && axis >= 0 && axis < 64))
    )
      throw new ApiError('API_BAD_REQUEST', `inputAxes.${name} must be an axis (0..63) or "broadcast"`)
    out[name] = axis as number | 'broadcast'
  }
  return out
}

function parseStateField(v: unknown): NonNullable<SubmitJobRequest['state']> {
  const bad = () =>
    new ApiError(
      'API_BAD_REQUEST',
      'state must list 1..64 pairs { "output": <state output>, "input": <state input> }',
    )
  if (!Array.isArray(v) || v.length === 0 || v.length > 64) throw bad()
  return v.map((p) => {
    if (typeof p !== 'object' || p === null) throw bad()
    const { output, input, ...rest } = p as Record<string, unknown>
    if (
      typeof output !== 'string' ||
      typeof input !== 'string' ||
      !VALUE_NAME.test(output) ||
      !VALUE_NAME.test(input) ||
      Object.keys(rest).length > 0
    )
      throw bad()
    return { output, input }
  })
}
