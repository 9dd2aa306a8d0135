/**
 * The pure parts of the sustained load benchmark (scripts/bench-load.mjs): its scenario (many
 * requesters, verifiers and providers, one of them cheating), the statistics it reports, the
 * /proc readers its CPU figures come from, and the rule that names the first bottleneck from
 * what it measured. No I/O here: the script reads /proc and the nodes and passes the text in.
 */
import { parseScenario, type TestnetScenario } from './scenario.js'

export interface LoadScenarioOptions {
  providers: number
  verifiers: number
  requesters: number
}

/**
 * Requesters first (the seeds are the first non-providers), then the verifiers, the honest
 * providers (price floors spread so awards spread over them) and one cheater that corrupts half
 * of its micro-batches and bids lowest, so it wins work and meets the verifiers early.
 */
export function loadScenario(options: LoadScenarioOptions): TestnetScenario {
  const { providers, verifiers, requesters } = options
  const nodes: unknown[] = [
    { name: 'requester', roles: ['requester'], count: requesters },
    { name: 'verifier', roles: ['verifier'], stake: '1000', count: verifiers },
  ]
  for (let i = 1; i < providers; i++)
    nodes.push({
      name: `provider-${i}`,
      roles: ['provider'],
      stake: '1000',
      // 0.0001 OPEN a sample plus 0.000001 per provider: distinct floors, none far above the rest
      priceFloorPerSample: (0.0001 + i * 0.000001).toFixed(6),
    })
  nodes.push({
    name: 'cheater',
    roles: ['provider'],
    stake: '1000',
    priceFloorPerSample: '0.00005',
    faults: { fraction: 0.5 },
  })
  return parseScenario({ nodes })
}

/** The p-th percentile (nearest rank) of `values`; null when there are none. */
export function percentile(values: readonly number[], p: number): number | null {
  if (values.length === 0) return null
  const sorted = [...values].sort((a, b) => a - b)
  const rank = Math.ceil((p / 100) * sorted.length) - 1
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank))]!
}

/** The machine's CPU time from /proc/stat's first line, in clock ticks: busy and all. */
export interface MachineCpu {
  busy: number
  total: number
}

/** Parses /proc/stat; idle and iowait count as not busy. */
export function parseProcStat(text: string): MachineCpu {
  const line = text.split('\n').find((l) => l.startsWith('cpu '))
  if (line === undefined) throw new Error('/proc/stat has no "cpu " line')
  const fields = line.trim().split(/\s+/).slice(1).map(Number)
  // user nice system idle iowait irq softirq steal (guest time is already in user)
  const total = fields.slice(0, 8).reduce((sum, v) => sum + v, 0)
  const idle = (fields[3] ?? 0) + (fields[4] ?? 0)
  return { busy: total - idle, total }
}

/** The fraction of the machine's CPU time that was busy between two /proc/stat readings. */
export function machineBusyFraction(before: MachineCpu, after: MachineCpu): number {
  const total = after.total - before.total
  return total <= 0 ? 0 : (after.busy - before.busy) / total
}

/**
 * User plus system time of a process from /proc/<pid>/stat, in clock ticks. The command name
 * (field 2) may hold spaces and parentheses, so the fields are counted after its last ')'.
 */
export function parsePidStatTicks(text: string): number {
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ')
  // after the name: state is field 3, utime field 14, stime field 15
  const utime = Number(rest[11])
  const stime = Number(rest[12])
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) throw new Error('not a /proc/<pid>/stat line')
  return utime + stime
}

export type BottleneckKind = 'CPU' | 'chain' | 'gossip' | 'transfer'

/** What the benchmark measured of each resource (null where it saw no sample). */
export interface LoadSignals {
  /** fraction of the machine's CPU time busy over the run (all processes, other users' included) */
  machineBusy: number
  /** p95 of a probe transaction's send-to-receipt time on the shared chain */
  chainProbeP95Ms: number | null
  /** p95 of an offer's delay from the requester's record to a provider's validated copy */
  offerLagP95Ms: number | null
  /** p95 of a provider's artifact check before its bid (fetching the job's files) */
  prebidP95Ms: number | null
  /** what a provider's artifact check may take before it gives up the bid */
  prebidTimeoutMs: number
}

/** Each resource's figure against the level at which it limits the network (1 = at its limit). */
export const BOTTLENECK_LIMITS = {
  /** a machine this busy leaves the nodes runnable but waiting for a core */
  machineBusy: 0.9,
  /** anvil answers a transaction in milliseconds; a second means the chain queues */
  chainProbeMs: 1_000,
  /** issue 17's gossip goal: offers reach every node with p99 ≤ 500 ms */
  offerLagMs: 500,
} as const

export interface Bottleneck {
  kind: BottleneckKind
  /** each resource's figure over its limit; ≥ 1 means at or past it */
  ratios: Record<BottleneckKind, number | null>
  saturated: boolean
}

/**
 * The first bottleneck: the CPU when the machine was saturated (a starved CPU slows every
 * other stage, so their figures are its symptoms), else the resource furthest past its limit,
 * else the one closest to it (`saturated: false`).
 */
export function pickBottleneck(signals: LoadSignals): Bottleneck {
  const ratio = (value: number | null, limit: number) => (value === null ? null : value / limit)
  const ratios: Record<BottleneckKind, number | null> = {
    CPU: signals.machineBusy / BOTTLENECK_LIMITS.machineBusy,
    chain: ratio(signals.chainProbeP95Ms, BOTTLENECK_LIMITS.chainProbeMs),
    gossip: ratio(signals.offerLagP95Ms, BOTTLENECK_LIMITS.offerLagMs),
    transfer: ratio(signals.prebidP95Ms, signals.prebidTimeoutMs),
  }
  if ((ratios.CPU ?? 0) >= 1) return { kind: 'CPU', ratios, saturated: true }
  let kind: BottleneckKind = 'CPU'
  for (const k of ['chain', 'gossip', 'transfer'] as const)
    if ((ratios[k] ?? -1) > (ratios[kind] ?? -1)) kind = k
  return { kind, ratios, saturated: (ratios[kind] ?? 0) >= 1 }
}
