/**
 * The web console in headless Chromium (the system's, found by @ocn/console/chromium) against
 * the nodes of a running e2e network: the requester's page uploads a generate job's files
 * through its form and submits it, shows its tokens as they stream in and then the committed
 * ones, shows each bid with the bidder's on-chain record, watches it reach finalized and
 * downloads the result with its hash checked; the provider's page shows the earning (charted
 * by uPlot), its JobMarket record, its price floor, and the stake it starts unbonding from the
 * page; the verifier's page shows the conviction of the cheater and the rewards the protocol
 * paid it, to the base unit of what the chain's events say. A request
 * naming a foreign host and a cross-origin POST are refused by the real API. Each view leaves
 * a screenshot: in docs/images/ with OCN_UPDATE_SCREENSHOTS=1, else in a temp dir.
 */
import { mkdirSync, mkdtempSync } from 'node:fs'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { findChromium } from '@ocn/console/chromium'
import { type Browser, chromium, type Page } from 'playwright-core'
import { expect } from 'vitest'

const SCREENSHOTS =
  process.env.OCN_UPDATE_SCREENSHOTS === '1'
    ? join(import.meta.dirname, '..', '..', 'docs', 'images')
    : mkdtempSync(join(tmpdir(), 'ocn-console-e2e-'))

export interface ConsoleNodes {
  requester: string
  provider: string
  verifier: string
  fixture: { modelPath: string; inputsPath: string }
  /** a generate job's files on this machine (the page uploads them) and the tokens it must end with */
  generate: { modelPath: string; inputsPath: string; maxNewTokens: number; tokens: number[][] }
  earned: () => Promise<bigint>
  /** the provider's JobMarket record, read from the chain */
  providerRecord: () => Promise<{ completed: number; slashed: number }>
  /** the provider's stake unbonding, read from the StakeManager */
  providerUnbonding: () => Promise<bigint>
  /** the provider node's price floor per sample (its config) */
  priceFloorPerSample: bigint
  /** what the chain's events paid the verifier: challenger rewards + juror fees − juror penalties */
  verifierRewards: () => Promise<bigint>
}

/** What the bid list and the record card write for a provider's record. */
async function recordText(nodes: ConsoleNodes): Promise<string> {
  const record = await nodes.providerRecord()
  return `${record.completed} jobs done · ${record.slashed} slashed`
}

/** OPEN as the console writes it (format.ts): up to four decimals. */
function open(units: bigint): string {
  const whole = units / 10n ** 18n
  const fraction = ((units % 10n ** 18n) * 10_000n) / 10n ** 18n
  return fraction === 0n
    ? `${whole} OPEN`
    : `${whole}.${fraction.toString().padStart(4, '0').replace(/0+$/, '')} OPEN`
}

/** A raw request with the headers a browser or a foreign page would send. */
function raw(
  url: string,
  options: { method: 'GET' | 'POST'; headers: Record<string, string>; body?: string },
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const sent = request(
      url,
      { method: options.method, headers: options.headers, timeout: 10_000 },
      (res) => {
        let body = ''
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => {
          body += chunk
        })
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
      },
    )
    sent.on('timeout', () => sent.destroy(new Error(`no answer from ${url}`)))
    sent.on('error', reject)
    sent.end(options.body)
  })
}

/** The job the submission ended as: itself, or the last re-offer of it, once finalized. */
async function settledJob(api: string, jobId: string): Promise<string> {
  const deadline = Date.now() + 150_000
  let id = jobId
  while (Date.now() < deadline) {
    const response = await fetch(`${api}/jobs/${id}`, { signal: AbortSignal.timeout(10_000) })
    const job = (await response.json()) as { state: string; detail?: { reofferedAs?: string } }
    if (typeof job.detail?.reofferedAs === 'string') id = job.detail.reofferedAs
    else if (job.state === 'finalized') return id
    else await new Promise((resolve) => setTimeout(resolve, 500))
  }
  throw new Error(`job ${jobId} (last ${id}) did not reach finalized in 150 s`)
}

async function shoot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true })
  await page.screenshot({ path: join(SCREENSHOTS, `console-${name}.png`) })
}

async function requesterView(browser: Browser, nodes: ConsoleNodes): Promise<string> {
  const page = await browser.newPage({ viewport: { width: 1100, height: 760 } })
  const problems: string[] = []
  page.on('pageerror', (error) => problems.push(error.message))
  await page.goto(`${nodes.requester}/#requester`)
  await page.getByTestId('stream').filter({ hasText: 'live' }).waitFor({ timeout: 15_000 })
  // the files come from this machine through the browser: uploaded to the node, not named by path
  const { generate } = nodes
  await page.locator('input[name="model"]').setInputFiles(generate.modelPath)
  await page.locator('input[name="inputs"]').setInputFiles(generate.inputsPath)
  await page.locator('input[name="maxNewTokens"]').fill(String(generate.maxNewTokens))
  await page.getByRole('button', { name: 'submit' }).click()
  const submitted = page.getByText(/^submitted job 0x[0-9a-f]{64}$/)
  await submitted.waitFor({ timeout: 60_000 })
  const jobId = (await submitted.textContent())!.replace('submitted job ', '')
  // the job's timeline is open while it runs: its tokens stream into the page
  await page.locator(`[data-testid="jobs"] tr:has(td[title="${jobId}"])`).click()
  // the page follows the job live over the event stream to its settlement
  // a bidding round without a usable bid (a loaded machine) re-offers it under a new id
  const settled = await settledJob(nodes.requester, jobId)
  const row = page.locator(`[data-testid="jobs"] tr[data-state="finalized"]:has(td[title="${settled}"])`)
  await row.waitFor({ timeout: 15_000 })
  await row.click()
  await page.getByTestId('timeline').getByText('finalized').first().waitFor()
  const tokens = page.getByTestId('tokens')
  await tokens.getByText('committed, checked against every committed leaf').waitFor({ timeout: 15_000 })
  const rows = await tokens.locator('li[data-prompt] code').allTextContents()
  expect(rows).toEqual(generate.tokens.map((row) => row.join(' ')))
  // the winning bid, with the bidder's record as the JobMarket has it now (the job counted)
  const accepted = page.getByTestId('bids').locator('li[data-status="accepted"]')
  await accepted
    .getByTestId('bid-record')
    .getByText(await recordText(nodes), { exact: true })
    .waitFor({
      timeout: 15_000,
    })
  await page.getByTestId('timeline').getByRole('button', { name: 'download' }).first().click()
  await page
    .getByTestId('timeline')
    .getByText(/bytes, sha-256 checked$/)
    .waitFor({ timeout: 15_000 })
  await shoot(page, 'requester')
  expect(problems).toEqual([])
  await page.close()
  return settled
}

async function providerView(browser: Browser, nodes: ConsoleNodes, jobId: string): Promise<void> {
  const page = await browser.newPage({ viewport: { width: 1100, height: 1100 } })
  const problems: string[] = []
  page.on('pageerror', (error) => problems.push(error.message))
  await page.goto(`${nodes.provider}/#provider`)
  await page.getByTestId('stream').filter({ hasText: 'live' }).waitFor({ timeout: 15_000 })
  // the provider's record of the job settles when its node has seen the finalization
  await page.locator(`tr[data-state="finalized"] td[title="${jobId}"]`).waitFor({ timeout: 30_000 })
  const earned = await nodes.earned()
  expect(earned).toBeGreaterThan(0n)
  await page.getByTestId('earnings').getByText(open(earned), { exact: true }).waitFor({ timeout: 10_000 })
  // drawn by the chart library on its canvas, with both lines in its legend
  const chart = page.getByTestId('earnings-chart')
  await chart.locator('.uplot canvas').waitFor()
  await chart.locator('.u-legend').getByText('slashed').waitFor()
  // the JobMarket's record: the honest jobs of this file and the convictions of its cheats
  const record = await nodes.providerRecord()
  expect(record.slashed).toBeGreaterThan(0)
  const card = page.getByTestId('record')
  await card
    .locator('[data-field="completed"]')
    .getByText(String(record.completed), { exact: true })
    .waitFor()
  await card.locator('[data-field="slashed"]').getByText(String(record.slashed), { exact: true }).waitFor()
  const floor = page.getByTestId('terms').locator('[data-field="priceFloor"]')
  await floor.getByText(`${open(nodes.priceFloorPerSample)} per sample or step`).waitFor()
  // unstaking from the page starts unbonding: the card shows the amount and when it unlocks
  const stake = page.getByTestId('stake')
  await stake.locator('input[name="amount"]').fill('1.5')
  await stake.getByRole('button', { name: 'unstake' }).click()
  await stake.getByText(/^unstaked 1\.5 OPEN \(transaction 0x/).waitFor({ timeout: 30_000 })
  const unbonding = await nodes.providerUnbonding()
  expect(unbonding).toBe(15n * 10n ** 17n)
  await page
    .getByTestId('unbonding')
    .getByText(new RegExp(`^${open(unbonding).replace('.', '\\.')} · withdrawable `))
    .waitFor({ timeout: 15_000 })
  await shoot(page, 'provider')
  expect(problems).toEqual([])
  await page.close()
}

async function verifierView(browser: Browser, nodes: ConsoleNodes): Promise<void> {
  const page = await browser.newPage({ viewport: { width: 1100, height: 760 } })
  await page.goto(`${nodes.verifier}/#verifier`)
  await page.getByTestId('stream').filter({ hasText: 'live' }).waitFor({ timeout: 15_000 })
  // the cheater this verifier challenged was convicted: its job ended slashed
  await page.getByTestId('disputes').locator('.state.slashed').first().waitFor({ timeout: 15_000 })
  await page
    .getByTestId('checks')
    .getByText(/[1-9]\d* found a mismatch/)
    .waitFor()
  // what the court and the market paid it for its challenges and seats, as their events say
  const rewards = await nodes.verifierRewards()
  expect(rewards).toBeGreaterThan(0n)
  await page
    .getByTestId('rewards')
    .locator('[data-field="total"]')
    .getByText(open(rewards), { exact: true })
    .waitFor({ timeout: 15_000 })
  await shoot(page, 'verifier')
  await page.goto(`${nodes.verifier}/#network`)
  await page.getByTestId('peer').first().waitFor({ timeout: 15_000 })
  await page.getByTestId('topics').locator('code').first().waitFor()
  await shoot(page, 'network')
  await page.close()
}

/** What a foreign page or host cannot do to the real node API. */
async function refusals(nodes: ConsoleNodes): Promise<void> {
  const api = new URL(nodes.requester)
  const foreignHost = await raw(`${nodes.requester}/status`, {
    method: 'GET',
    headers: { host: `192.0.2.1:${api.port}` },
  })
  expect(foreignHost.status).toBe(403)
  expect(foreignHost.body).toContain('API_FORBIDDEN_HOST')
  const crossOrigin = await raw(`${nodes.requester}/jobs`, {
    method: 'POST',
    headers: {
      host: api.host,
      origin: 'http://evil.example',
      'sec-fetch-site': 'cross-site',
      'content-type': 'application/json',
    },
    body: JSON.stringify({ ...nodes.fixture, kind: 'inference', verification: 'replay' }),
  })
  expect(crossOrigin.status).toBe(403)
  expect(crossOrigin.body).toContain('API_CROSS_ORIGIN')
  const crossOriginUpload = await raw(`${nodes.requester}/uploads?name=model.onnx&final=1`, {
    method: 'POST',
    headers: { host: api.host, origin: 'http://evil.example', 'content-type': 'application/octet-stream' },
    body: 'bytes',
  })
  expect(crossOriginUpload.status).toBe(403)
  expect(crossOriginUpload.body).toContain('API_CROSS_ORIGIN')
}

export async function consoleInBrowser(nodes: ConsoleNodes): Promise<void> {
  const browser = await chromium.launch({ executablePath: findChromium(), args: ['--no-sandbox'] })
  try {
    await refusals(nodes)
    const jobId = await requesterView(browser, nodes)
    await providerView(browser, nodes, jobId)
    await verifierView(browser, nodes)
  } finally {
    await browser.close()
  }
}
