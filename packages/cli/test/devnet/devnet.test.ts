/**
 * The devnet as a user runs it: `ocn devnet --once --json` as a child process (anvil, eight
 * `ocn start` processes over TCP, the generated workload), then the summary is checked
 * against the protocol's money rules, to the wei.
 */
import { execFile, execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const bin = fileURLToPath(new URL('../../dist/bin/ocn.js', import.meta.url))

interface Balance {
  native: string
  token: string
  staked: string
  locked: string
  /** prepaid balance in the JobMarket: still the account's money */
  market: string
}
interface Summary {
  ok: boolean
  disputes: {
    job: string | null
    convicted: boolean
    outcome: string
    money: { name: string; wei: string; why: string }[]
  }[]
  chainId: number
  rpcUrl: string
  contracts: Record<string, string>
  nodes: {
    name: string
    role: string
    roles: string[]
    peerId: string
    address: string
    cheater: boolean
    api: string
  }[]
  jobs: {
    name: string
    id: string
    kind: string
    verification: string
    provider: string | null
    providerName: string | null
    price: string | null
    status: string
    challenged: boolean
    latencyMs: number | null
    mode?: 'generate' | 'sequence'
    /** price still escrowed for offers this job replaced (a no-show's award not yet expired) */
    /** the offers this job replaced (re-offers), oldest first */
    superseded?: string[]
    escrowHeld?: string
    latePaid?: { id: string; provider: string; price: string }[]
    results?: { leafCount: number; verified: boolean; tokens?: number[][]; streamed?: number[][] }
  }[]
  balances: { name: string; address: string; before: Balance; after: Balance }[]
  phases: Record<string, { report: Record<string, unknown> }>
  checks: Record<string, boolean>
}

let dir: string
let code: number
let stdout: string
let stderr: string
let summary: Summary

beforeAll(async () => {
  if (!existsSync(bin)) throw new Error('build @ocn/cli first: npm run build (at the repository root)')
  dir = await mkdtemp(join(tmpdir(), 'ocn-devnet-test-'))
  await new Promise<void>((resolve) => {
    execFile(
      process.execPath,
      [bin, 'devnet', '--once', '--json', '--dir', join(dir, 'net')],
      {
        env: { PATH: process.env.PATH ?? '', HOME: dir },
        cwd: dir,
        timeout: 280_000,
        maxBuffer: 16 * 1024 * 1024,
      },
      (error, out, err) => {
        code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1
        stdout = out
        stderr = err
        resolve()
      },
    )
  })
  const lines = stdout.trim().split('\n')
  summary = JSON.parse(lines[lines.length - 1]!) as Summary
}, 300_000)

afterAll(async () => {
  if (dir !== undefined) await rm(dir, { recursive: true, force: true })
})

const delta = (b: Summary['balances'][number], key: keyof Balance) =>
  BigInt(b.after[key]) - BigInt(b.before[key])
/** OPEN the account gained: in its wallet or credited to its market balance (a deposit moves it between them) */
const openDelta = (b: Summary['balances'][number]) => delta(b, 'token') + delta(b, 'market')

/** OPEN the channels phase moved: the requester paid its provider the redeemed vouchers. */
function channelFlow(name: string): bigint {
  const report = summary.phases.channels?.report as { provider?: string; redeemed?: string } | undefined
  if (report?.redeemed === undefined) return 0n
  if (name === 'requester') return -BigInt(report.redeemed)
  return name === report.provider ? BigInt(report.redeemed) : 0n
}

/**
 * Whether the cheater's fault plan forges this kind of job (micro-batches, checkpoints, tokens):
 * a stateful sequence job or a zk job it wins it runs honestly, and is paid for like anyone.
 */
function forgeable(job: { verification: string; mode?: string }): boolean {
  return job.verification !== 'zk' && job.mode !== 'sequence'
}

/**
 * OPEN the attribution phase's inference job (on the datanet-trained model) moved: the
 * requester paid its price; its provider got the price less the fee and the attribution share.
 */
function attributionFlow(name: string): bigint {
  const report = summary.phases.attribution?.report as
    | {
        inferenceProvider?: string
        inferencePrice?: string
        inferenceFee?: string
        attributionShare?: string
      }
    | undefined
  if (report?.inferencePrice === undefined) return 0n
  if (name === 'requester') return -BigInt(report.inferencePrice)
  if (name !== report.inferenceProvider) return 0n
  return (
    BigInt(report.inferencePrice) - BigInt(report.inferenceFee ?? 0) - BigInt(report.attributionShare ?? 0)
  )
}

describe('ocn devnet --once --json', () => {
  it('exits 0 with one JSON summary on stdout, progress on stderr', () => {
    expect(code, stderr.slice(-4000)).toBe(0)
    expect(stdout.trim().split('\n')).toHaveLength(1)
    expect(summary.ok).toBe(true)
    expect(summary.checks).toMatchObject({
      honestJobsSettled: true,
      cheaterCaught: true,
      honestNeverSlashed: true,
      tokensConserved: true,
    })
    // Each phase's checks are named `<phase>.<check>` and all of them passed.
    for (const [name, passed] of Object.entries(summary.checks)) expect([name, passed]).toEqual([name, true])
    expect(stderr).toContain('starting anvil')
    expect(stderr).toMatch(/inference-1 +0x[0-9a-f]+…[0-9a-f]{4} awarded to provider-/)
  })

  it('reports the chain, the contracts and eight nodes, one of them cheating', () => {
    expect(summary.chainId).toBe(31337)
    expect(summary.rpcUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    for (const name of ['token', 'stakeManager', 'jobMarket', 'accessManager'])
      expect(summary.contracts[name]).toMatch(/^0x[0-9a-fA-F]{40}$/)
    expect(summary.nodes.map((n) => n.role).sort()).toEqual([
      'provider',
      'provider',
      'provider',
      'requester',
      'verifier',
      'verifier',
      'verifier',
      'verifier',
    ])
    expect(summary.nodes.filter((n) => n.cheater)).toHaveLength(1)
    expect(new Set(summary.nodes.map((n) => n.peerId)).size).toBe(8)
    for (const node of summary.nodes) expect(node.peerId).toMatch(/^12D3KooW/)
  })

  it('settles every honest job and slashes the cheater on the job it won', () => {
    const cheater = summary.nodes.find((n) => n.cheater)!.address.toLowerCase()
    // Inference jobs on the generated classifier and one training job (phases add their own).
    const workload = summary.jobs.filter((j) => /^(inference|training)-\d+$/.test(j.name))
    expect(workload.map((j) => j.kind).sort()).toEqual(['inference', 'inference', 'inference', 'training'])
    for (const job of summary.jobs) {
      expect(job.id).toMatch(/^0x[0-9a-f]{64}$/)
      expect(job.provider).not.toBeNull()
      if (job.provider!.toLowerCase() === cheater && forgeable(job)) {
        expect(job).toMatchObject({ status: 'slashed', challenged: true })
      } else {
        expect(job).toMatchObject({ status: 'finalized', challenged: false })
        expect(BigInt(job.price!)).toBeGreaterThan(0n)
        expect(job.latencyMs).toBeGreaterThan(0)
      }
    }
    expect(summary.jobs.some((j) => j.status === 'slashed')).toBe(true)
  })

  it('finalizes a generate job (tokens streamed, then checked) and a stateful sequence job; convicts the token forger', () => {
    const cheater = summary.nodes.find((n) => n.cheater)!.address.toLowerCase()
    const generate = summary.jobs.filter((j) => j.mode === 'generate')
    // the first generate job goes out while the cheater is a stranger: it wins it (or, when its
    // check of the new model ran past the window, the same files offered again), forges tokens
    const forged = generate.find((j) => j.provider?.toLowerCase() === cheater)
    expect(forged).toMatchObject({ status: 'slashed', challenged: true })
    expect(forged!.name).toMatch(/^generate-1(-again)?$/)
    // a jury convicted it on that job (the other challengers' disputes of it convict nothing more)
    expect(summary.disputes.some((d) => d.job === forged!.name && d.convicted)).toBe(true)
    // 2 prompts x 8 new tokens, every leaf checked by the requester; the provider streamed the same tokens
    const honest = generate.find((j) => j.status === 'finalized')
    expect(honest?.results).toMatchObject({ leafCount: 16, verified: true })
    expect(honest!.results!.tokens).toHaveLength(2)
    for (const tokens of honest!.results!.tokens!) expect(tokens).toHaveLength(8)
    expect(honest!.results!.streamed).toEqual(honest!.results!.tokens)
    // VAD-like model: state batch on axis 1, scalar sample rate; 4 chunks x 2 streams
    const sequence = summary.jobs.find((j) => j.mode === 'sequence')
    expect(sequence).toMatchObject({ name: 'sequence-1', status: 'finalized', challenged: false })
    expect(sequence!.results).toMatchObject({ leafCount: 8, verified: true })
  })

  it('settles the zk job by its Groth16 proof on-chain: an honest provider, no challenge window', () => {
    const zk = summary.jobs.find((j) => j.name === 'zk-inference')
    expect(zk).toMatchObject({
      kind: 'inference',
      verification: 'zk',
      status: 'finalized',
      challenged: false,
    })
    const cheater = summary.nodes.find((n) => n.cheater)!
    expect(zk!.provider!.toLowerCase()).not.toBe(cheater.address.toLowerCase())
    const report = summary.phases.zk!.report as {
      provider: string
      commitZkResult: { transaction: string; gasUsed: string } | null
    }
    expect(report.provider).toBe(zk!.providerName)
    expect(report.commitZkResult?.transaction).toMatch(/^0x[0-9a-f]{64}$/)
    expect(BigInt(report.commitZkResult!.gasUsed)).toBeGreaterThan(200_000n)
  })

  it('moves money exactly as the protocol says', () => {
    const byName = new Map(summary.balances.map((b) => [b.name, b]))
    const cheater = summary.nodes.find((n) => n.cheater)!
    // A no-show whose job was offered again may still commit before its deadline: that award is
    // paid like any job (the requester pays twice, by design). Until then, or until it expires
    // for the refund, its escrow is the requester's, held by the market.
    const finalized = [
      ...summary.jobs
        .filter((j) => j.status === 'finalized')
        .map((j) => ({ provider: j.provider!, price: j.price! })),
      ...summary.jobs.flatMap((j) => j.latePaid ?? []),
    ]
    const paid = finalized.reduce((sum, j) => sum + BigInt(j.price), 0n)
    const held = summary.jobs.reduce((sum, j) => sum + BigInt(j.escrowHeld ?? 0), 0n)
    // On a mismatch, what each job and account did: the amount alone does not say which job.
    const story = JSON.stringify({
      jobs: summary.jobs.map((j) => [
        j.name,
        j.status,
        j.price,
        j.providerName,
        j.superseded,
        j.escrowHeld,
        j.latePaid,
      ]),
      tokenDeltas: summary.balances.map((b) => [b.name, openDelta(b).toString()]),
      attribution: summary.phases.attribution?.report,
    })
    // The requester pays only for settled jobs: the slashed job's price was refunded.
    expect(openDelta(byName.get('requester')!), story).toBe(
      -paid - held + attributionFlow('requester') + channelFlow('requester'),
    )
    // Each provider earns its prices less the 2.5% protocol fee: the honest ones, and the cheater
    // for any job it ran honestly (a kind its fault plan does not forge).
    const earned = (address: string) =>
      finalized
        .filter((j) => j.provider.toLowerCase() === address.toLowerCase())
        .reduce((sum, j) => sum + BigInt(j.price) - (BigInt(j.price) * 250n) / 10_000n, 0n)
    for (const node of summary.nodes.filter((n) => n.role === 'provider')) {
      expect(openDelta(byName.get(node.name)!), node.name).toBe(
        earned(node.address) + attributionFlow(node.name) + channelFlow(node.name),
      )
      if (!node.cheater) expect(delta(byName.get(node.name)!, 'staked')).toBe(0n)
    }
    // The cheater loses collateral from its stake and earns nothing for a forged job. The
    // disputes report every transfer: the convicting challenger's reward and the coherent
    // jurors' shares are exactly what each verifier gained, and no honest juror lost stake.
    const slashed = -delta(byName.get(cheater.name)!, 'staked')
    expect(slashed).toBeGreaterThan(0n)
    const convictions = summary.disputes.filter((d) => d.convicted)
    expect(convictions.length).toBeGreaterThan(0)
    const penalties = convictions.flatMap((d) => d.money.filter((m) => m.why === 'slashed collateral'))
    expect(penalties.reduce((sum, m) => sum - BigInt(m.wei), 0n)).toBe(slashed)
    for (const node of summary.nodes.filter((n) => n.role === 'verifier')) {
      const gained = summary.disputes
        .flatMap((d) => d.money)
        .filter((m) => m.name === node.name)
        .reduce((sum, m) => sum + BigInt(m.wei), 0n)
      expect(openDelta(byName.get(node.name)!), node.name).toBe(gained)
      expect(delta(byName.get(node.name)!, 'staked'), node.name).toBe(0n)
    }
    // nothing stays locked by a job or a dispute: only the verifiers' juror stakes, locked at start
    for (const b of summary.balances) {
      expect(BigInt(b.after.locked), b.name).toBe(BigInt(b.before.locked))
      if (!b.name.startsWith('verifier')) expect(BigInt(b.after.locked), b.name).toBe(0n)
    }
  })

  it('pays inference over one payment channel: one redeem for all requests, the rest refunded', () => {
    const report = summary.phases.channels!.report as {
      requests: number
      deposit: string
      voucherTotal: string
      redeemed: string
      refunded: string
      transactions: { requester: number; provider: number }
    }
    expect(report.requests).toBe(5)
    expect(report.redeemed).toBe(report.voucherTotal)
    expect(BigInt(report.redeemed) + BigInt(report.refunded)).toBe(BigInt(report.deposit))
    expect(report.transactions).toEqual({ requester: 2, provider: 1 })
  })

  it('pays a datanet: the fee share of the trained model and the slashed noise stake are claimed by its contributors, noise earning least', () => {
    const report = summary.phases.attribution!.report as {
      attributionShare: string
      slashedToPool: string
      slashed: { contributor: string }[]
      contributors: { address: string; noisy: boolean; weight: number; payout: string }[]
    }
    expect(report.contributors).toHaveLength(3)
    expect(report.contributors.reduce((sum, c) => sum + c.weight, 0)).toBe(10_000)
    expect(report.contributors.reduce((sum, c) => sum + BigInt(c.payout), 0n)).toBe(
      BigInt(report.attributionShare) + BigInt(report.slashedToPool),
    )
    expect(report.slashed.map((x) => x.contributor)).toEqual(
      report.contributors.filter((c) => c.noisy).map((c) => c.address),
    )
    const noise = report.contributors.filter((c) => c.noisy)
    const signal = report.contributors.filter((c) => !c.noisy)
    expect(noise).toHaveLength(1)
    for (const s of signal) expect(BigInt(s.payout)).toBeGreaterThan(BigInt(noise[0]!.payout))
  })

  it('passes a protocol fee change through governance with ocn gov; the deployer can no longer make it', async () => {
    const report = summary.phases.governance!.report as {
      governor: string
      timelock: string
      before: number
      after: number
      proposalId: string
      transitions: { state: string; block: string }[]
      directCall: { result: string }
      cli: { command: string }[]
    }
    expect(report.after).toBe(report.before + 50)
    expect(BigInt(report.proposalId)).toBeGreaterThan(0n)
    expect(report.transitions.map((t) => t.state)).toEqual([
      'pending',
      'active',
      'succeeded',
      'queued',
      'executed',
    ])
    const blocks = report.transitions.map((t) => BigInt(t.block))
    for (let i = 1; i < blocks.length; i++) expect(blocks[i]!).toBeGreaterThan(blocks[i - 1]!)
    expect(report.directCall.result).toBe('AccessManagedUnauthorized')
    // Every step went through the CLI, in this order.
    expect(report.cli.map((c) => c.command.split(' ').slice(0, 3).join(' '))).toEqual([
      'ocn gov delegate',
      'ocn gov propose',
      'ocn gov vote',
      'ocn gov queue',
      'ocn gov execute',
    ])
    for (const step of report.cli.slice(2)) expect(step.command).toContain(` ${report.proposalId}`)
    // The deployment file the nodes read now names the governance.
    const file = JSON.parse(await readFile(join(dir, 'net', 'deployment.json'), 'utf8'))
    expect(file.governance).toMatchObject({ governor: report.governor, timelock: report.timelock })
  })

  it('leaves no process behind', () => {
    const processes = execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' })
    expect(processes).not.toContain(join(dir, 'net'))
  })
})
