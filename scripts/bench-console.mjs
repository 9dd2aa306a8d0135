#!/usr/bin/env node
/**
 * Web console benchmark, against a real node API (@ocn/node's server over a real state
 * store) serving the built console, in the system's headless Chromium:
 * - bundleKb: the console's JS + CSS, gzipped (budget 200);
 * - firstPaintMs: first contentful paint of a fresh page load, median of --loads (budget 1000);
 * - eventLagMs: p95 from a job written to the node's store (what a chain event becomes) to
 *   its row on the page, over --events writes (budget 1500).
 *
 * Usage: npm run bench:console -- [--loads 5] [--events 30] [--json]
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { gzipSync } from 'node:zlib'
import { chromium } from 'playwright-core'
import { findChromium } from '../packages/console/chromium.js'
import { consoleDir } from '../packages/console/console-dir.js'
import { createApiServer } from '../packages/node/dist/api/index.js'
import { createSilentLogger } from '../packages/node/dist/core/logger.js'
import { createStateStore } from '../packages/node/dist/state/index.js'

const { values: args } = parseArgs({
  options: {
    loads: { type: 'string', default: '5' },
    events: { type: 'string', default: '30' },
    json: { type: 'boolean', default: false },
  },
})
const say = (...line) => (args.json ? console.error(...line) : console.log(...line))

async function bundleKb() {
  const assets = join(consoleDir, 'assets')
  let bytes = 0
  for (const name of await readdir(assets)) {
    if (!/\.(js|css)$/.test(name)) continue
    bytes += gzipSync(await readFile(join(assets, name)), { level: 9 }).length
  }
  return Math.round((bytes / 1024) * 10) / 10
}

const percentile = (values, p) => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]
}

async function firstPaints(browser, url, loads) {
  const paints = []
  for (let i = 0; i < loads; i++) {
    const page = await browser.newPage()
    await page.goto(url)
    await page.getByTestId('stream').filter({ hasText: 'live' }).waitFor({ timeout: 10_000 })
    paints.push(
      await page.evaluate(() => performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? -1),
    )
    await page.close()
  }
  return paints
}

/** Each write's lag: the page stamps the moment a job's row appears (a MutationObserver). */
async function eventLags(browser, url, store, count) {
  const page = await browser.newPage()
  await page.goto(url)
  await page.getByTestId('stream').filter({ hasText: 'live' }).waitFor({ timeout: 10_000 })
  await page.evaluate(() => {
    window.seen = {}
    new MutationObserver(() => {
      for (const cell of document.querySelectorAll('td[title]'))
        window.seen[cell.title] ??= performance.timeOrigin + performance.now()
    }).observe(document.body, { childList: true, subtree: true })
  })
  const written = {}
  for (let i = 0; i < count; i++) {
    const id = `0xbe${i.toString(16).padStart(4, '0')}`
    written[id] = performance.timeOrigin + performance.now()
    await store.createJob({
      id,
      role: 'requester',
      state: 'offered',
      kind: 'inference',
      verification: 'replay',
    })
    await page.locator(`td[title="${id}"]`).waitFor({ timeout: 5_000 })
  }
  const seen = await page.evaluate(() => window.seen)
  await page.close()
  return Object.entries(written).map(([id, at]) => seen[id] - at)
}

const dir = await mkdtemp(join(tmpdir(), 'ocn-bench-console-'))
const store = createStateStore({ path: join(dir, 'state'), sync: false })
await store.open()
const server = createApiServer(
  { port: 0, consoleDir },
  {
    providers: {
      status: async () => ({
        version: 'bench',
        roles: ['requester'],
        startedAt: Date.now(),
        uptimeMs: 0,
        services: {},
        jobs: {},
      }),
      jobs: (query) => store.listJobs(query),
      job: (id) => store.getJob(id),
      bids: (query) => store.listBids(query.jobId),
      onJobWritten: (listener) => store.onJobWritten(listener),
    },
    logger: createSilentLogger(),
  },
)
await server.start()
const browser = await chromium.launch({ executablePath: findChromium(), args: ['--no-sandbox'] })
try {
  const kb = await bundleKb()
  say(`bundle: ${kb} KiB gzipped JS + CSS (budget 200)`)
  const paints = await firstPaints(browser, `${server.url}/`, Number(args.loads))
  const firstPaintMs = Math.round(percentile(paints, 50))
  say(`first contentful paint: median ${firstPaintMs} ms over ${paints.length} loads (budget 1000)`)
  const lags = await eventLags(browser, `${server.url}/`, store, Number(args.events))
  const eventLagMs = Math.round(percentile(lags, 95))
  say(
    `event lag: p95 ${eventLagMs} ms, median ${Math.round(percentile(lags, 50))} ms over ${lags.length} writes (budget 1500)`,
  )
  if (args.json) console.log(JSON.stringify({ bundleKb: kb, firstPaintMs, eventLagMs }))
} finally {
  await browser.close()
  await server.stop()
  await store.close()
  await rm(dir, { recursive: true, force: true })
}
