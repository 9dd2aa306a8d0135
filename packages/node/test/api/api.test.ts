import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { type ApiProviders, type ApiServer, createApiServer } from '../../src/api/index.js'
import { createSilentLogger } from '../../src/core/logger.js'
import { createMetricsFactory, createMetricsRegistry, renderMetrics } from '../../src/metrics/index.js'
import { createStateStore, type StateStore } from '../../src/state/index.js'
import { getJson, httpRequest } from './helpers.js'

let dir: string
let store: StateStore
let server: ApiServer
let base: string

function providersOver(state: StateStore, extra: Partial<ApiProviders> = {}): ApiProviders {
  const registry = createMetricsRegistry({ collectDefaultMetrics: false })
  return {
    async status() {
      return {
        version: 'test',
        roles: [],
        startedAt: 1,
        uptimeMs: 2,
        services: { state: 'running' },
        jobs: {},
      }
    },
    jobs: (query) => state.listJobs(query),
    job: (id) => state.getJob(id),
    bids: (query) => state.listBids(query.jobId),
    metrics: () => renderMetrics(registry),
    ...extra,
  }
}

async function startServer(providers: ApiProviders, options: Parameters<typeof createApiServer>[0] = {}) {
  const registry = createMetricsRegistry({ collectDefaultMetrics: false })
  const metrics = createMetricsFactory(registry)
  const api = createApiServer(
    { port: 0, ...options },
    {
      providers: { ...providers, metrics: () => renderMetrics(registry) },
      logger: createSilentLogger(),
      metrics,
    },
  )
  await api.start()
  return api
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ocn-api-'))
  store = createStateStore({ path: join(dir, 'state'), sync: false })
  await store.open()
  await store.createJob({
    id: '0xaa01',
    role: 'requester',
    state: 'offered',
    kind: 'inference',
    verification: 'replay',
    maxPrice: 2n ** 100n,
  })
  await store.createJob({
    id: '0xbb02',
    role: 'provider',
    state: 'awarded',
    kind: 'training',
    verification: 'zk',
  })
  await store.putBid({
    jobId: '0xaa01',
    bidId: '0x01',
    provider: '0xp',
    price: 5n,
    collateral: 10n,
    status: 'received',
    receivedAt: 3,
  })
  server = await startServer(providersOver(store))
  base = server.url!
})

afterEach(async () => {
  await server.stop()
  await store.close()
  await rm(dir, { recursive: true, force: true })
})

describe('local API', () => {
  it('binds to loopback on a free port', () => {
    expect(base).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    expect(server.port).toBeGreaterThan(0)
  })

  it('serves status, jobs, a job and bids as JSON with bigints as strings', async () => {
    const status = await getJson(`${base}/status`)
    expect(status).toMatchObject({ status: 200, json: { version: 'test', services: { state: 'running' } } })

    const jobs = await getJson(`${base}/jobs`)
    expect(jobs.json.jobs.map((job: { id: string }) => job.id).sort()).toEqual(['0xaa01', '0xbb02'])

    const filtered = await getJson(`${base}/jobs?role=provider&state=awarded&limit=5`)
    expect(filtered.json.jobs.map((job: { id: string }) => job.id)).toEqual(['0xbb02'])

    const job = await getJson(`${base}/jobs/0xaa01`)
    expect(job.status).toBe(200)
    expect(job.json.maxPrice).toBe((2n ** 100n).toString())

    const bids = await getJson(`${base}/bids?jobId=0xaa01`)
    expect(bids.json.bids).toEqual([expect.objectContaining({ bidId: '0x01', price: '5', collateral: '10' })])
  })

  it('answers errors as JSON with stable codes', async () => {
    expect(await getJson(`${base}/jobs/0xffff`)).toEqual({
      status: 404,
      json: { error: { code: 'API_NOT_FOUND', message: 'unknown job 0xffff' } },
    })
    expect((await getJson(`${base}/jobs/bad%20id`)).json.error.code).toBe('API_BAD_REQUEST')
    expect((await getJson(`${base}/jobs/%E0%A4%A`)).json.error.code).toBe('API_BAD_REQUEST')
    expect((await getJson(`${base}/jobs?state=paid`)).json.error).toEqual({
      code: 'API_BAD_REQUEST',
      message: 'state "paid" is not a job state',
    })
    expect((await getJson(`${base}/jobs?limit=0`)).status).toBe(400)
    expect((await getJson(`${base}/nowhere`)).status).toBe(404)
  })

  it('answers 503 for parts that are not plugged in', async () => {
    for (const path of ['/peers', '/offers', '/balances']) {
      const response = await getJson(`${base}${path}`)
      expect(response.status).toBe(503)
      expect(response.json.error.code).toBe('API_SERVICE_UNAVAILABLE')
    }
  })

  it('serves peers, offers and balances from plugged-in providers', async () => {
    await server.stop()
    server = await startServer(
      providersOver(store, {
        peers: async () => [{ peerId: '12D3KooW', addresses: ['/ip4/127.0.0.1/tcp/1'] }],
        offers: async () => [
          {
            jobId: '0x01',
            requester: '0xr',
            kind: 'inference',
            verification: 'replay',
            maxPrice: 10n ** 30n,
            receivedAt: 1,
          },
        ],
        balances: async () => ({ address: '0xme', native: 1n, token: 2n, staked: 3n, locked: 4n }),
      }),
    )
    base = server.url!
    expect((await getJson(`${base}/peers`)).json.peers[0].peerId).toBe('12D3KooW')
    expect((await getJson(`${base}/offers`)).json.offers[0].maxPrice).toBe((10n ** 30n).toString())
    expect((await getJson(`${base}/balances`)).json).toEqual({
      address: '0xme',
      native: '1',
      token: '2',
      staked: '3',
      locked: '4',
    })
  })

  it('serves Prometheus metrics including its own request counters', async () => {
    await getJson(`${base}/jobs`)
    await getJson(`${base}/jobs/0xffff`)
    const response = await httpRequest(`${base}/metrics`)
    expect(response.status).toBe(200)
    expect(response.headers['content-type']).toContain('text/plain')
    expect(response.body).toContain('ocn_api_requests_total{route="/jobs",status="200"} 1')
    expect(response.body).toContain('ocn_api_requests_total{route="/jobs/:id",status="404"} 1')
    expect(response.body).toContain('# TYPE ocn_api_request_duration_seconds histogram')
  })

  it('is read-only except for POST /jobs', async () => {
    const response = await httpRequest(`${base}/status`, { method: 'POST', body: '{}' })
    expect(response.status).toBe(405)
    expect(response.headers.allow).toBe('GET, HEAD')
    expect(JSON.parse(response.body).error.code).toBe('API_METHOD_NOT_ALLOWED')
    const head = await httpRequest(`${base}/status`, { method: 'HEAD' })
    expect(head.status).toBe(200)
    expect(head.body).toBe('')
  })

  it('refuses foreign Host headers (DNS rebinding), big bodies and long URLs', async () => {
    const rebinding = await httpRequest(`${base}/status`, { headers: { host: 'attacker.example:80' } })
    expect(rebinding.status).toBe(403)
    expect(JSON.parse(rebinding.body).error.code).toBe('API_FORBIDDEN_HOST')

    const localhost = await httpRequest(`${base}/status`, { headers: { host: `localhost:${server.port}` } })
    expect(localhost.status).toBe(200)

    const body = Buffer.alloc(64 * 1024, 1)
    const declared = await httpRequest(`${base}/status`, {
      body,
      headers: { 'content-length': String(body.length) },
    })
    expect(declared.status).toBe(413)
    expect(JSON.parse(declared.body).error.code).toBe('API_PAYLOAD_TOO_LARGE')
    // Chunked bodies declare no size: the server counts while reading.
    const chunked = await httpRequest(`${base}/status`, { body, headers: { 'transfer-encoding': 'chunked' } })
    expect(chunked.status).toBe(413)

    const long = await httpRequest(`${base}/jobs?x=${'a'.repeat(3000)}`)
    expect(long.status).toBe(414)
  })

  it('times out a provider that does not answer, and hides internal errors', async () => {
    await server.stop()
    let aborted = false
    server = await startServer(
      providersOver(store, {
        status: (options) =>
          new Promise((_resolve, reject) => {
            options.signal.addEventListener('abort', () => {
              aborted = true
              reject(options.signal.reason)
            })
          }),
        jobs: async () => {
          throw new Error('disk on fire at /secret/path')
        },
      }),
      { handlerTimeoutMs: 100 },
    )
    base = server.url!
    const slow = await getJson(`${base}/status`)
    expect(slow.status).toBe(504)
    expect(slow.json.error.code).toBe('API_TIMEOUT')
    expect(aborted).toBe(true)
    const broken = await getJson(`${base}/jobs`)
    expect(broken).toEqual({
      status: 500,
      json: { error: { code: 'API_INTERNAL', message: 'internal error while answering the request' } },
    })
  })

  it('reports a port in use as a clear error', async () => {
    const clash = createApiServer(
      { port: server.port! },
      { providers: providersOver(store), logger: createSilentLogger() },
    )
    await expect(clash.start()).rejects.toMatchObject({ code: 'API_LISTEN_FAILED' })
  })
})
