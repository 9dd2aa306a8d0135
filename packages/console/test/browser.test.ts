/**
 * The console in headless Chromium against a real node API (@ocn/node's server over a real
 * state store, serving the built console): the page takes the token from its URL fragment,
 * shows jobs from the node and follows their lifecycle live over the event stream, submits
 * through the form (its POST is same-origin with the token), and leaves a screenshot of each
 * view: in docs/images/ with OCN_UPDATE_SCREENSHOTS=1 (to refresh the docs), else in a temp dir,
 * so a test run never changes tracked files. Chromium is the system's (chromium.js).
 */
import { existsSync, mkdtempSync } from 'node:fs'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  type ApiServer,
  createApiServer,
  createProgressHub,
  createSilentLogger,
  createStateStore,
  type StateStore,
} from '@ocn/node'
import { type Browser, chromium } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { findChromium } from '../chromium.js'
import { consoleDir } from '../console-dir.js'

const JOB_MARKET = '0x5FbDB2315678afecb367f032d93F642f64180aa3'
const TOKEN = 'c'.repeat(43)
const SCREENSHOTS =
  process.env.OCN_UPDATE_SCREENSHOTS === '1'
    ? join(import.meta.dirname, '..', '..', '..', 'docs', 'images')
    : mkdtempSync(join(tmpdir(), 'ocn-console-shots-'))

let dir: string
let store: StateStore
let server: ApiServer
let browser: Browser
const hub = createProgressHub({ intervalMs: 20 })

beforeAll(async () => {
  if (!existsSync(join(consoleDir, 'index.html')))
    throw new Error('the console is not built: run `npm run build -w @ocn/console` first')
  const executablePath = findChromium()
  dir = await mkdtemp(join(tmpdir(), 'ocn-console-'))
  store = createStateStore({ path: join(dir, 'state'), sync: false })
  await store.open()
  await store.createJob({
    id: '0xaa01',
    role: 'requester',
    state: 'offered',
    kind: 'inference',
    verification: 'replay',
    maxPrice: 3n * 10n ** 18n,
  })
  await store.createJob({
    id: '0xbb02',
    role: 'provider',
    state: 'finalized',
    kind: 'inference',
    verification: 'replay',
    price: 2n * 10n ** 18n,
  })
  server = createApiServer(
    { port: 0, token: TOKEN, consoleDir, uploadDir: join(dir, 'uploads') },
    {
      providers: {
        status: async () => ({
          version: 'test',
          roles: ['requester', 'provider'],
          startedAt: Date.now(),
          uptimeMs: 1,
          services: { state: 'running' },
          chain: {
            rpcUrl: 'http://127.0.0.1:8545',
            chainId: 31337,
            blockNumber: 1234n,
            deployment: { contracts: { jobMarket: JOB_MARKET }, deployBlock: 3n },
          },
          jobs: {},
        }),
        jobs: (query) => store.listJobs(query),
        job: (id) => store.getJob(id),
        bids: (query) => store.listBids(query.jobId),
        onJobWritten: (listener) => store.onJobWritten(listener),
        onProgress: (listener) => hub.subscribe(listener),
        network: async () => ({
          peerId: '12D3KooWself',
          listen: ['/ip4/127.0.0.1/tcp/4001'],
          peers: [
            { peerId: '12D3KooWpeerA', addresses: ['/ip4/127.0.0.1/tcp/4002'], score: -12.5, topics: ['t'] },
          ],
          topics: [{ topic: '/ocn/offers/1', meshPeers: 1, subscribers: 1 }],
        }),
        providerSummary: async () => ({
          priceFloorPerSample: 10n ** 14n,
          maxConcurrentJobs: 2,
          running: 0,
          devices: ['cpu'],
          collateral: { priceMultiple: 2, maxLockedFraction: 0.5 },
          settlements: [
            {
              jobId: '0xbb02',
              at: Date.now(),
              state: 'finalized',
              earned: 2n * 10n ** 18n,
              slashedCollateral: 0n,
            },
          ],
        }),
        balances: async () => ({
          address: '0x00000000000000000000000000000000000000aa',
          native: 10n ** 18n,
          token: 500n * 10n ** 18n,
          staked: 100n * 10n ** 18n,
          locked: 2n * 10n ** 18n,
        }),
      },
      logger: createSilentLogger(),
    },
  )
  await server.start()
  browser = await chromium.launch({ executablePath, args: ['--no-sandbox'] })
}, 30_000)

afterAll(async () => {
  await browser?.close()
  await server?.stop()
  await store?.close()
  if (dir !== undefined) await rm(dir, { recursive: true, force: true })
})

describe('the console in Chromium', () => {
  it('shows the node live, follows a job over events, submits through the form', async () => {
    const page = await browser.newPage({ viewport: { width: 1100, height: 720 } })
    const problems: string[] = []
    page.on('pageerror', (error) => problems.push(error.message))
    await page.goto(`${server.url}/#token=${TOKEN}`)
    await page.getByTestId('stream').filter({ hasText: 'live' }).waitFor({ timeout: 10_000 })
    // the token left the address bar
    expect(page.url()).not.toContain('token')
    await expect(page.getByTestId('chain-block').textContent()).resolves.toBe('block 1234')
    const row = page.locator('[data-testid="jobs"] tr[data-state]')
    await row.first().waitFor()
    expect(await row.first().getAttribute('data-state')).toBe('offered')

    // a write on the node reaches the page through the event stream
    await store.transitionJob('0xaa01', 'awarded', { patch: { price: 25n * 10n ** 17n } })
    await page.locator('tr[data-state="awarded"]').waitFor({ timeout: 5_000 })
    await page.getByText('2.5 OPEN').first().waitFor()
    // long work's progress reaches the job's timeline over the same stream
    await store.transitionJob('0xaa01', 'executing')
    hub.report({ jobId: '0xaa01', stage: 'transfer', label: 'model', unit: 'bytes', done: 2048, total: 4096 })
    hub.report({ jobId: '0xaa01', stage: 'execution', unit: 'micro-batches', done: 3, total: 8 })
    await page.getByTestId('work-progress').getByText('execution 3/8 micro-batches (37%)').waitFor()
    await page.getByTestId('work-progress').getByText('transfer model 2.0 KiB of 4.0 KiB (50%)').waitFor()

    // the form uploads its files and POSTs the job (token, same origin); the node takes the
    // uploads, and its refusal (no requester role here) comes back typed
    const file = (name: string) => ({ name, mimeType: 'application/octet-stream', buffer: Buffer.from(name) })
    await page.locator('input[name="model"]').setInputFiles(file('my model.onnx'))
    await page.locator('input[name="inputs"]').setInputFiles(file('inputs.safetensors'))
    await page.getByRole('button', { name: 'submit' }).click()
    await page
      .getByText('API_SERVICE_UNAVAILABLE: this node does not run the requester role (--role requester)')
      .waitFor()

    await mkdir(SCREENSHOTS, { recursive: true })
    await page.screenshot({ path: join(SCREENSHOTS, 'console-mock-requester.png') })

    await page.goto(`${server.url}/#provider`)
    await page.getByTestId('earnings').getByText('2 OPEN').first().waitFor()
    // the chart library (uPlot) drew the earnings on its canvas
    await page.getByTestId('earnings-chart').locator('.uplot canvas').waitFor()
    await page.getByTestId('terms').getByText('0 of 2 jobs running').waitFor()
    // free stake: staked minus locked, to the base unit
    await page.getByTestId('stake').getByText('98 OPEN').waitFor()
    // the peers its bids travel to, with the gossip score this node gives each
    await page.getByTestId('provider-peers').getByText('1 connected').waitFor()
    await page.getByTestId('provider-peers').getByText('score -12.5').waitFor()
    await page.screenshot({ path: join(SCREENSHOTS, 'console-mock-provider.png') })

    // the network page: peers with their gossip scores, the topics; no devnet board here
    await page.goto(`${server.url}/#network`)
    await page.getByTestId('peer').getByText('-12.5').waitFor()
    await page.getByTestId('topics').getByText('/ocn/offers/1').waitFor()
    // the deployment the node talks to, each contract's full address
    await page.getByTestId('deployment').getByText(JOB_MARKET).waitFor()
    expect(await page.getByTestId('devnet').count()).toBe(0)
    expect(problems).toEqual([])
  }, 45_000)
})
