/**
 * Who may use the local API (api/access.ts): a non-loopback binding needs the token for
 * every request, state changes need it wherever the node has one, and a browser's POST
 * must come from the node's own origin. Also the console files and the job event stream.
 */
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import {
  type ApiProviders,
  type ApiServer,
  createApiServer,
  ensureApiToken,
  readApiToken,
} from '../../src/api/index.js'
import { createSilentLogger } from '../../src/core/logger.js'
import { createProgressHub } from '../../src/core/progress.js'
import { createStateStore, type StateStore } from '../../src/state/index.js'
import { httpRequest } from './helpers.js'

let dir: string
let store: StateStore
let server: ApiServer | undefined
const hub = createProgressHub({ intervalMs: 50 })
const TOKEN = 'a'.repeat(20) + 'B'.repeat(23)

function providersOver(state: StateStore): ApiProviders {
  return {
    status: async () => ({ version: 't', roles: [], startedAt: 1, uptimeMs: 1, services: {}, jobs: {} }),
    jobs: (query) => state.listJobs(query),
    job: (id) => state.getJob(id),
    bids: async () => [],
    onJobWritten: (listener) => state.onJobWritten(listener),
    onProgress: (listener) => hub.subscribe(listener),
    stake: async ({ amount }) => ({
      transaction: '0x01',
      balances: { address: '0xa', native: 1n, token: 0n, staked: amount, locked: 0n },
    }),
  }
}

async function start(options: Parameters<typeof createApiServer>[0]): Promise<string> {
  server = createApiServer(
    { port: 0, ...options },
    { providers: providersOver(store), logger: createSilentLogger() },
  )
  await server.start()
  return `http://127.0.0.1:${server.port}`
}

const json = { 'content-type': 'application/json' }

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ocn-api-access-'))
  store = createStateStore({ path: join(dir, 'state'), sync: false })
  await store.open()
})

afterEach(async () => {
  await server?.stop()
  server = undefined
  await store.close()
  await rm(dir, { recursive: true, force: true })
})

describe('API access', () => {
  it('refuses to bind a non-loopback address without a token', async () => {
    server = createApiServer(
      { host: '0.0.0.0', port: 0 },
      { providers: providersOver(store), logger: createSilentLogger() },
    )
    await expect(server.start()).rejects.toMatchObject({ code: 'API_TOKEN_REQUIRED' })
    server = undefined
  })

  it('refuses an unauthenticated request on a non-loopback binding, and takes the token', async () => {
    const base = await start({ host: '0.0.0.0', token: TOKEN })
    const anonymous = await httpRequest(`${base}/status`, { headers: { host: '10.1.2.3:7410' } })
    expect(anonymous.status).toBe(401)
    expect(JSON.parse(anonymous.body).error.code).toBe('API_UNAUTHORIZED')
    const wrong = await httpRequest(`${base}/status`, {
      headers: { authorization: `Bearer ${'x'.repeat(43)}` },
    })
    expect(wrong.status).toBe(401)
    const bearer = await httpRequest(`${base}/status`, {
      headers: { host: '10.1.2.3:7410', authorization: `Bearer ${TOKEN}` },
    })
    expect(bearer.status).toBe(200)
  })

  it('needs the token for a state change even on loopback, and refuses a cross-origin POST', async () => {
    const base = await start({ token: TOKEN })
    const body = JSON.stringify({ amount: '5' })
    const anonymous = await httpRequest(`${base}/stake`, { method: 'POST', headers: json, body })
    expect(anonymous.status).toBe(401)
    const auth = { ...json, authorization: `Bearer ${TOKEN}` }
    const crossOrigin = await httpRequest(`${base}/stake`, {
      method: 'POST',
      headers: { ...auth, origin: 'http://evil.example' },
      body,
    })
    expect(crossOrigin.status).toBe(403)
    expect(JSON.parse(crossOrigin.body).error.code).toBe('API_CROSS_ORIGIN')
    const crossSite = await httpRequest(`${base}/stake`, {
      method: 'POST',
      headers: { ...auth, 'sec-fetch-site': 'cross-site' },
      body,
    })
    expect(crossSite.status).toBe(403)
    const sameOrigin = await httpRequest(`${base}/stake`, {
      method: 'POST',
      headers: { ...auth, origin: base, 'sec-fetch-site': 'same-origin' },
      body,
    })
    expect(sameOrigin.status).toBe(200)
    expect(JSON.parse(sameOrigin.body).balances.staked).toBe('5')
    // reads stay open on loopback (the Host check guards them)
    expect((await httpRequest(`${base}/status`)).status).toBe(200)
  })

  it('creates the token once, mode 0600, and reads it back', async () => {
    const first = await ensureApiToken(dir)
    expect(first.created).toBe(true)
    expect(first.token).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(await ensureApiToken(dir)).toEqual({ token: first.token, created: false })
    expect(await readApiToken(dir)).toBe(first.token)
    expect((await stat(join(dir, 'api-token'))).mode & 0o777).toBe(0o600)
  })
})

describe('console files and events', () => {
  it('serves the console with a strict content security policy, and nothing outside it', async () => {
    const consoleDir = join(dir, 'console')
    await mkdir(join(consoleDir, 'assets'), { recursive: true })
    await writeFile(join(consoleDir, 'index.html'), '<!doctype html><title>ocn</title>')
    await writeFile(join(consoleDir, 'assets', 'app.js'), 'console.log(1)')
    const base = await start({ consoleDir })
    const page = await httpRequest(`${base}/`)
    expect(page.status).toBe(200)
    expect(page.headers['content-type']).toContain('text/html')
    expect(page.headers['content-security-policy']).toContain("script-src 'self'")
    expect((await httpRequest(`${base}/assets/app.js`)).body).toBe('console.log(1)')
    expect((await httpRequest(`${base}/assets/..%2Findex.html`)).status).toBe(404)
    expect((await httpRequest(`${base}/assets/missing.js`)).status).toBe(404)
  })

  it('streams job writes as server-sent events, filtered by job', async () => {
    const base = await start({})
    const controller = new AbortController()
    const response = await fetch(`${base}/events?jobId=0xaa`, { signal: controller.signal })
    expect(response.headers.get('content-type')).toContain('text/event-stream')
    const reader = response.body!.getReader()
    const decoder = new TextDecoder()
    let text = ''
    const readUntil = async (needle: string) => {
      while (!text.includes(needle)) text += decoder.decode((await reader.read()).value)
    }
    await readUntil('event: ready')
    await store.createJob({
      id: '0xbb',
      role: 'provider',
      state: 'offered',
      kind: 'inference',
      verification: 'replay',
    })
    await store.createJob({
      id: '0xaa',
      role: 'requester',
      state: 'offered',
      kind: 'inference',
      verification: 'replay',
      maxPrice: 7n,
    })
    await store.transitionJob('0xaa', 'bidding')
    await readUntil('"state":"bidding"')
    expect(text).not.toContain('0xbb')
    expect(text).toContain('"maxPrice":"7"')
    controller.abort()
  })

  it('sends progress events only to a stream that asks (?progress=1), rate-limited, for its job', async () => {
    const base = await start({})
    const controller = new AbortController()
    const plain = await fetch(`${base}/events`, { signal: controller.signal })
    const response = await fetch(`${base}/events?jobId=0xaa&progress=1`, { signal: controller.signal })
    const reader = response.body!.getReader()
    const plainReader = plain.body!.getReader()
    const decoder = new TextDecoder()
    let text = ''
    const readUntil = async (needle: string) => {
      while (!text.includes(needle)) text += decoder.decode((await reader.read()).value)
    }
    await readUntil('event: ready')
    // a fast loop: 200 steps at once; the first and the last reach the stream, not all 200
    for (let done = 1; done <= 200; done++)
      hub.report({ jobId: '0xaa', stage: 'execution', unit: 'micro-batches', done, total: 200 })
    hub.report({ jobId: '0xbb', stage: 'transfer', unit: 'bytes', done: 5, total: 10 })
    await readUntil('"done":200')
    expect(text).toContain('event: progress')
    expect(text).toContain('"done":1,')
    expect(text.match(/event: progress/g)!.length).toBeLessThan(5)
    expect(text).not.toContain('0xbb')
    // the plain stream saw its ready and no progress
    const first = decoder.decode((await plainReader.read()).value)
    expect(first).toContain('event: ready')
    expect((await httpRequest(`${base}/events?progress=yes`)).status).toBe(400)
    controller.abort()
  })
})
