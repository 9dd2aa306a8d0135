/**
 * POST /jobs and GET /jobs/:id/results: body validation, the CSRF guard, and how a
 * requester's refusal reaches the client. The requester is a stand-in behind the same
 * ApiProviders interface (the real one is exercised by the devnet test).
 */
import { createHash } from 'node:crypto'
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import {
  type ApiProviders,
  type ApiServer,
  createApiServer,
  type SubmitJobRequest,
} from '../../src/api/index.js'
import { NodeError } from '../../src/core/errors.js'
import { createSilentLogger } from '../../src/core/logger.js'
import { httpRequest } from './helpers.js'

let dir: string
let server: ApiServer
let base: string
let model: string
let inputs: string
let submitted: SubmitJobRequest[]

function providers(extra: Partial<ApiProviders> = {}): ApiProviders {
  return {
    status: async () => ({ version: 't', roles: [], startedAt: 1, uptimeMs: 1, services: {}, jobs: {} }),
    jobs: async () => [],
    job: async () => undefined,
    bids: async () => [],
    ...extra,
  }
}

async function start(p: ApiProviders): Promise<void> {
  server = createApiServer({ port: 0 }, { providers: p, logger: createSilentLogger() })
  await server.start()
  base = server.url!
}

function post(body: unknown, headers: Record<string, string> = { 'content-type': 'application/json' }) {
  return httpRequest(`${base}/jobs`, {
    method: 'POST',
    headers,
    body: typeof body === 'string' ? body : JSON.stringify(body),
  })
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ocn-api-submit-'))
  model = join(dir, 'model.onnx')
  inputs = join(dir, 'inputs.safetensors')
  await writeFile(model, 'onnx')
  await writeFile(inputs, 'tensors')
  submitted = []
  await start(
    providers({
      async submitJob(request) {
        if (request.inputsPath.endsWith('mismatch.safetensors')) {
          throw new NodeError('EXECUTOR_INPUT_MISMATCH', 'the inputs do not fit the model', {
            details: 'input "x" expects 4 features, the file has 3',
          })
        }
        submitted.push(request)
        return { jobId: `0x${'ab'.repeat(32)}` }
      },
      async jobResults(id) {
        if (id !== `0x${'ab'.repeat(32)}`) return undefined
        return {
          jobId: id,
          state: 'finalized',
          files: [{ name: 'outputs.safetensors', bytes: 6 }],
        }
      },
      async openJobResult(id, name) {
        if (id !== `0x${'ab'.repeat(32)}` || name !== 'outputs.safetensors') return undefined
        return (async function* () {
          yield new TextEncoder().encode('out')
          yield new TextEncoder().encode('put')
        })()
      },
    }),
  )
})

afterEach(async () => {
  await server.stop()
  await rm(dir, { recursive: true, force: true })
})

describe('POST /jobs', () => {
  it('hands a valid job to the requester, with maxPrice as a bigint', async () => {
    const response = await post({ modelPath: model, inputsPath: inputs, kind: 'inference', maxPrice: '5000' })
    expect(response.status).toBe(200)
    expect(JSON.parse(response.body)).toEqual({ jobId: `0x${'ab'.repeat(32)}` })
    expect(submitted).toEqual([
      { modelPath: model, inputsPath: inputs, kind: 'inference', verification: 'replay', maxPrice: 5000n },
    ])
  })

  it('hands a generate job on with its decoding fields', async () => {
    const generate = { maxNewTokens: 8, stopTokens: [0], sampling: { temperature: 0.7, topK: 5 }, seed: 's' }
    const response = await post({ modelPath: model, inputsPath: inputs, generate })
    expect(response.status).toBe(200)
    expect(submitted).toEqual([
      { modelPath: model, inputsPath: inputs, kind: 'inference', verification: 'replay', generate },
    ])
  })

  it('names what is wrong with a bad body and submits nothing', async () => {
    const cases: [unknown, RegExp][] = [
      ['{not json', /not valid JSON/],
      [[1], /JSON object/],
      [{ modelPath: model }, /inputsPath must be an absolute path/],
      [{ modelPath: 'model.onnx', inputsPath: inputs }, /modelPath must be an absolute path/],
      [{ modelPath: join(dir, 'nope.onnx'), inputsPath: inputs }, /modelPath: no file at/],
      [{ modelPath: dir, inputsPath: inputs }, /is not a file/],
      [{ modelPath: model, inputsPath: inputs, kind: 'training' }, /trainingSpecPath must be/],
      [{ modelPath: model, inputsPath: inputs, verification: 'trust-me' }, /verification must be/],
      [{ modelPath: model, inputsPath: inputs, maxPrice: 5 }, /maxPrice must be/],
      [{ modelPath: model, inputsPath: inputs, microBatchSize: 0 }, /microBatchSize/],
      [{ modelPath: model, inputsPath: inputs, priority: 'high' }, /unknown field "priority"/],
      [{ modelPath: model, inputsPath: inputs, generate: 8 }, /generate must be an object/],
      [{ modelPath: model, inputsPath: inputs, generate: { maxNewTokens: '8' } }, /maxNewTokens must be/],
      [
        { modelPath: model, inputsPath: inputs, generate: { maxNewTokens: 8, beam: 2 } },
        /generate.beam is not/,
      ],
      [
        { modelPath: model, inputsPath: inputs, verification: 'zk', generate: { maxNewTokens: 8 } },
        /generate goes with kind "inference", replay/,
      ],
    ]
    for (const [body, message] of cases) {
      const response = await post(body)
      expect(response.status, JSON.stringify(body)).toBe(400)
      const error = JSON.parse(response.body).error
      expect(error.code).toBe('API_BAD_REQUEST')
      expect(error.message).toMatch(message)
    }
    expect(submitted).toEqual([])
  })

  it('passes the requester refusal on with its reason code', async () => {
    const mismatch = join(dir, 'mismatch.safetensors')
    await writeFile(mismatch, 'x')
    const response = await post({ modelPath: model, inputsPath: mismatch })
    expect(response.status).toBe(422)
    expect(JSON.parse(response.body).error).toEqual({
      code: 'API_JOB_REJECTED',
      reason: 'EXECUTOR_INPUT_MISMATCH',
      message: 'the inputs do not fit the model; input "x" expects 4 features, the file has 3',
    })
  })

  it('refuses what a web page could send: no JSON content type, a foreign origin, a big body', async () => {
    const form = await post({ modelPath: model, inputsPath: inputs }, { 'content-type': 'text/plain' })
    expect(form.status).toBe(415)
    const foreign = await post(
      { modelPath: model, inputsPath: inputs },
      { 'content-type': 'application/json', origin: 'https://evil.example' },
    )
    expect(foreign.status).toBe(403)
    const big = await post({ modelPath: model, inputsPath: `/${'a'.repeat(20_000)}` })
    expect(big.status).toBe(413)
    expect(submitted).toEqual([])
  })

  it('answers 503 on a node without the requester role', async () => {
    await server.stop()
    await start(providers())
    const response = await post({ modelPath: model, inputsPath: inputs })
    expect(response.status).toBe(503)
    expect(JSON.parse(response.body).error.message).toContain('--role requester')
  })
})

describe('GET /jobs/:id/results', () => {
  it('lists the result files of a known job and 404s an unknown one', async () => {
    const known = await httpRequest(`${base}/jobs/0x${'ab'.repeat(32)}/results`)
    expect(known.status).toBe(200)
    expect(JSON.parse(known.body).files[0]).toMatchObject({ name: 'outputs.safetensors', bytes: 6 })
    const unknown = await httpRequest(`${base}/jobs/0x1234/results`)
    expect(unknown.status).toBe(404)
    expect(JSON.parse(unknown.body).error.message).toBe('unknown job 0x1234')
  })

  it('streams a result file, and refuses unknown files and odd names', async () => {
    const file = await httpRequest(`${base}/jobs/0x${'ab'.repeat(32)}/results/outputs.safetensors`)
    expect(file.status).toBe(200)
    expect(file.headers['content-type']).toBe('application/octet-stream')
    expect(file.body).toBe('output')
    const missing = await httpRequest(`${base}/jobs/0x${'ab'.repeat(32)}/results/other.bin`)
    expect(missing.status).toBe(404)
    const odd = await httpRequest(`${base}/jobs/0x${'ab'.repeat(32)}/results/a%20b`)
    expect(odd.status).toBe(400)
    const deeper = await httpRequest(`${base}/jobs/0x${'ab'.repeat(32)}/results/x/y`)
    expect(deeper.status).toBe(404)
  })
})

describe('POST /uploads (files for a job, in chunks)', () => {
  const token = 'u'.repeat(32)
  let uploads: ApiServer
  let url: string
  const taken: SubmitJobRequest[] = []
  const limits = {
    maxUploadBytes: 10,
    maxUploadChunkBytes: 6,
    maxPendingUploads: 2,
    maxPendingUploadBytes: 16,
    uploadTtlMs: 300,
  }

  beforeEach(async () => {
    taken.length = 0
    uploads = createApiServer(
      { port: 0, token, uploadDir: join(dir, 'uploads'), ...limits },
      {
        providers: providers({
          async submitJob(request) {
            // the requester reads the files while it takes the job
            taken.push({
              ...request,
              modelPath: await readFile(request.modelPath, 'utf8'),
              inputsPath: basename(request.inputsPath),
            })
            return { jobId: `0x${'cd'.repeat(32)}` }
          },
        }),
        logger: createSilentLogger(),
      },
    )
    await uploads.start()
    url = uploads.url!
  })
  afterEach(() => uploads.stop())

  const chunk = (path: string, body: string, headers: Record<string, string> = {}) =>
    httpRequest(`${url}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream', ...headers },
      body,
    })
  const json = (response: { body: string }) => JSON.parse(response.body)

  it('streams chunks to the data dir, hashes them, and a job takes the upload by its id', async () => {
    const first = await chunk('/uploads?name=model.onnx', 'onnx-m')
    expect(first.status).toBe(200)
    const { uploadId } = json(first)
    expect(json(first)).toMatchObject({ uploadId, name: 'model.onnx', bytes: 6, complete: false })
    const last = json(await chunk(`/uploads/${uploadId}?offset=6&final=1`, 'odel'))
    const hash = `0x${createHash('sha256').update('onnx-model').digest('hex')}`
    expect(last).toMatchObject({ uploadId, bytes: 10, complete: true, hash })
    const inputs = json(await chunk('/uploads?name=x.npy&final=1', 'npy'))
    const body = { modelUpload: uploadId, inputsUpload: inputs.uploadId, kind: 'inference' }
    const headers = { 'content-type': 'application/json', authorization: `Bearer ${token}` }
    const submit = () => httpRequest(`${url}/jobs`, { method: 'POST', headers, body: JSON.stringify(body) })
    expect((await submit()).status).toBe(200)
    expect(taken).toEqual([
      { modelPath: 'onnx-model', inputsPath: 'x.npy', kind: 'inference', verification: 'replay' },
    ])
    // taken by the job: deleted, and a second submission naming it is refused
    expect(await readdir(join(dir, 'uploads'))).toEqual([])
    const again = await submit()
    expect(again.status).toBe(400)
    expect(json(again).error.message).toMatch(/modelUpload: no finished upload/)
  })

  it('refuses without the token, from another origin, as another type, with a path for a name', async () => {
    expect((await chunk('/uploads?name=a.onnx', 'x', { authorization: '' })).status).toBe(401)
    const foreign = await chunk('/uploads?name=a.onnx', 'x', { origin: 'http://evil.example' })
    expect(json(foreign).error.code).toBe('API_CROSS_ORIGIN')
    expect((await chunk('/uploads?name=a.onnx', 'x', { 'content-type': 'text/plain' })).status).toBe(415)
    for (const name of ['../a.onnx', '.hidden', 'a/b', ''])
      expect((await chunk(`/uploads?name=${encodeURIComponent(name)}`, 'x')).status).toBe(400)
    expect(await readdir(join(dir, 'uploads'))).toEqual([])
  })

  it('names its limits: chunk and file size, order, pending uploads, and expiry', async () => {
    const big = await chunk('/uploads?name=a.onnx', '1234567')
    expect(big.status).toBe(413)
    expect(json(big).error).toMatchObject({ code: 'API_PAYLOAD_TOO_LARGE', message: /at most 6 bytes/ })
    const { uploadId } = json(await chunk('/uploads?name=a.onnx', '123456'))
    expect((await chunk(`/uploads/${uploadId}?offset=2`, '78')).status).toBe(409)
    const over = await chunk(`/uploads/${uploadId}?offset=6`, '78901')
    expect(json(over).error.message).toBe('an upload may be at most 10 bytes')
    // a failed chunk leaves bytes of unknown worth: the upload is gone
    expect((await chunk(`/uploads/${uploadId}?offset=6`, '7')).status).toBe(404)
    await chunk('/uploads?name=a.onnx', '1')
    await chunk('/uploads?name=b.onnx', '2')
    const third = await chunk('/uploads?name=c.onnx', '3')
    expect(third.status).toBe(429)
    expect(json(third).error).toMatchObject({ code: 'API_UPLOAD_LIMIT', message: /at most 2 uploads/ })
    await new Promise((resolve) => setTimeout(resolve, limits.uploadTtlMs + 50))
    expect((await chunk('/uploads?name=c.onnx', '3')).status).toBe(200)
    expect(await readdir(join(dir, 'uploads'))).toHaveLength(1)
  })
})
