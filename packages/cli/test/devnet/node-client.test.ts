/**
 * The devnet's client of its nodes' APIs (@ocn/client): the token devnetApiUrl puts in the
 * URL's user part travels as a bearer header on reads and writes, never in the URL; failures
 * read as the CLI's ApiErrors; workload jobs become the API's submissions by kind.
 */
import { apiUrlWithToken } from '@ocn/node'
import { describe, expect, it } from 'vitest'
import { devnetNodeApi, submissionOf } from '../../src/devnet/node-client.js'

interface Seen {
  url: string
  method: string
  authorization: string | null
  body: unknown
}

function standIn(answer: (seen: Seen) => Response): { fetch: typeof fetch; seen: Seen[] } {
  const seen: Seen[] = []
  const fetchImpl = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const headers = new Headers(init?.headers)
    const call: Seen = {
      url: String(input),
      method: init?.method ?? 'GET',
      authorization: headers.get('authorization'),
      body: typeof init?.body === 'string' ? JSON.parse(init.body) : undefined,
    }
    seen.push(call)
    return answer(call)
  }
  return { fetch: fetchImpl, seen }
}

const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } })

describe('devnetNodeApi', () => {
  it('sends the token of the URL as a bearer header on reads and writes, and not in the URL', async () => {
    const { fetch, seen } = standIn((call) =>
      json(200, call.method === 'POST' ? { jobId: '0xab' } : { id: '0xab', state: 'offered' }),
    )
    const node = devnetNodeApi(apiUrlWithToken('http://127.0.0.1:7410', 's3cret/+token'), fetch)
    expect(node.url).toBe('http://127.0.0.1:7410')
    await node.call('read', (client) => client.job('0xab'))
    await node.call('write', (client) =>
      client.submit({ kind: 'inference', modelPath: '/m.onnx', inputsPath: '/i.safetensors' }),
    )
    expect(seen.map((s) => [s.method, s.url, s.authorization])).toEqual([
      ['GET', 'http://127.0.0.1:7410/jobs/0xab', 'Bearer s3cret/+token'],
      ['POST', 'http://127.0.0.1:7410/jobs', 'Bearer s3cret/+token'],
    ])
  })

  it('sends no token when the URL has none', async () => {
    const { fetch, seen } = standIn(() => json(200, { jobs: [] }))
    await devnetNodeApi('http://127.0.0.1:7410/', fetch).client.jobs()
    expect(seen[0]!.authorization).toBeNull()
  })

  it("reports a refused submission with the node's code and message, as `ocn job submit` does", async () => {
    const { fetch } = standIn(() =>
      json(400, { error: { code: 'API_BAD_REQUEST', message: 'modelPath does not exist', reason: 'X' } }),
    )
    const node = devnetNodeApi('http://127.0.0.1:7410', fetch)
    const refused = node.call('write', (client) =>
      client.submit({ kind: 'inference', modelPath: '/m.onnx', inputsPath: '/i.safetensors' }),
    )
    await expect(refused).rejects.toMatchObject({ name: 'ApiError', code: 'API_BAD_REQUEST' })
    await expect(refused).rejects.toThrow(/^modelPath does not exist/)
  })

  it('reports a node that cannot be reached as API_UNREACHABLE, without the token', async () => {
    const node = devnetNodeApi(apiUrlWithToken('http://127.0.0.1:7410', 'tok'), async () => {
      throw Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } })
    })
    const error = await node.call('read', (client) => client.status()).catch((e: unknown) => e)
    expect(error).toMatchObject({ code: 'API_UNREACHABLE' })
    expect(String((error as Error).message)).toContain('http://127.0.0.1:7410')
    expect(String((error as Error).message)).not.toContain('tok')
  })
})

describe('submissionOf', () => {
  it('submits an inference job with replay by default and only the fields it has', () => {
    expect(
      submissionOf({
        name: 'inference-1',
        kind: 'inference',
        modelPath: '/m.onnx',
        inputsPath: '/i.safetensors',
        microBatchSize: 8,
      }),
    ).toEqual({
      kind: 'inference',
      modelPath: '/m.onnx',
      inputsPath: '/i.safetensors',
      verification: 'replay',
      microBatchSize: 8,
    })
  })

  it('submits a training job with its spec and datanet manifest', () => {
    expect(
      submissionOf({
        name: 'training-1',
        kind: 'training',
        modelPath: '/m.onnx',
        inputsPath: '/d.safetensors',
        trainingSpecPath: '/spec.json',
        datanetManifestPath: '/manifest.json',
      }),
    ).toEqual({
      kind: 'training',
      modelPath: '/m.onnx',
      inputsPath: '/d.safetensors',
      verification: 'replay',
      trainingSpecPath: '/spec.json',
      datanetManifestPath: '/manifest.json',
    })
  })

  it('refuses a training job without a training spec before anything is sent', () => {
    expect(() =>
      submissionOf({ name: 'training-1', kind: 'training', modelPath: '/m', inputsPath: '/d' }),
    ).toThrow(expect.objectContaining({ code: 'DEVNET_OPTIONS_INVALID' }))
  })
})
