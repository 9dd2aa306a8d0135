/**
 * A testnet scenario: the nodes (roles, stake, price floor, fault plan), their links (delay
 * range, bandwidth) and how many seeds the others bootstrap from. Read from a JSON file, or
 * made from a node count (defaultScenario).
 *
 *   { "link": { "delayMs": [20, 60], "rateMbit": 100 }, "seeds": 3,
 *     "nodes": [ { "name": "requester", "roles": ["requester"] },
 *                { "name": "verifier", "roles": ["verifier"], "stake": "1000", "count": 3 },
 *                { "name": "provider", "roles": ["provider"], "stake": "1000",
 *                  "priceFloorPerSample": "0.0001", "count": 10 },
 *                { "name": "cheater", "roles": ["provider"], "faults": { "fraction": 0.5 } } ] }
 *
 * Amounts are OPEN in decimal; an entry with `count` stands for that many nodes, named
 * `<name>-1`, `<name>-2`, ...
 */
import { readFile } from 'node:fs/promises'
import { type NodeRole, nodeRoles } from '@ocn/node'
import { parseEther } from 'viem'
import { parseCheatingFaultPlanOptions } from '../devnet/faults.js'
import type { DevnetNodePlan } from '../devnet/placement.js'
import { TestnetError } from './errors.js'
import { MAX_TESTNET_NODES } from './names.js'

export interface TestnetLink {
  /** One-way delay of each link, spread over this range (milliseconds). */
  delayMs: [number, number]
  rateMbit: number
}

export interface TestnetScenario {
  link: TestnetLink
  /** How many nodes (the first non-providers) every other node bootstraps from. */
  seeds: number
  nodes: DevnetNodePlan[]
}

export const defaultLink: TestnetLink = { delayMs: [20, 60], rateMbit: 100 }
const DEFAULT_SEEDS = 3
const DEFAULT_STAKE = parseEther('1000')

function invalid(message: string, details?: string): TestnetError {
  return new TestnetError('TESTNET_SCENARIO_INVALID', message, details === undefined ? {} : { details })
}

/** A requester, a verifier per five nodes, providers for the rest; nobody cheats. */
export function defaultScenario(count: number): TestnetScenario {
  if (!Number.isInteger(count) || count < 3 || count > MAX_TESTNET_NODES)
    throw invalid(`a testnet has 3 to ${MAX_TESTNET_NODES} nodes (got ${count})`)
  const verifiers = Math.max(1, Math.round(count / 5))
  const nodes: DevnetNodePlan[] = [
    { name: 'requester', roles: ['requester'], extraRoles: [], cheater: false, stake: false },
  ]
  for (let i = 1; i <= verifiers; i++)
    nodes.push({ name: `verifier-${i}`, roles: ['verifier'], extraRoles: [], cheater: false, stake: true })
  for (let i = 1; i <= count - 1 - verifiers; i++)
    nodes.push({
      name: `provider-${i}`,
      roles: ['provider'],
      extraRoles: [],
      cheater: false,
      stake: true,
      priceFloor: parseEther('0.0001') + BigInt(i - 1) * parseEther('0.00001'),
    })
  return { link: { ...defaultLink, delayMs: [...defaultLink.delayMs] }, seeds: DEFAULT_SEEDS, nodes }
}

function openAmount(value: unknown, what: string): bigint | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'string' || !/^\d+(\.\d{1,18})?$/.test(value))
    throw invalid(`${what} must be an amount of OPEN as a decimal string (got ${JSON.stringify(value)})`)
  return parseEther(value)
}

function nodeEntry(entry: unknown, at: number): DevnetNodePlan[] {
  if (typeof entry !== 'object' || entry === null) throw invalid(`nodes[${at}] must be an object`)
  const e = entry as Record<string, unknown>
  if (typeof e.name !== 'string' || !/^[a-z][a-z0-9-]{0,30}$/.test(e.name))
    throw invalid(`nodes[${at}].name must be lowercase letters, digits and dashes`)
  const roles = e.roles
  if (!Array.isArray(roles) || roles.length === 0 || !roles.every((r) => nodeRoles.includes(r as NodeRole)))
    throw invalid(`nodes[${at}].roles must list some of ${nodeRoles.join(', ')}`)
  const count = e.count ?? 1
  if (!Number.isInteger(count) || (count as number) < 1)
    throw invalid(`nodes[${at}].count must be a positive integer`)
  const stakeAmount = openAmount(e.stake, `nodes[${at}].stake`)
  const priceFloor = openAmount(e.priceFloorPerSample, `nodes[${at}].priceFloorPerSample`)
  const faults = e.faults === undefined ? undefined : parseCheatingFaultPlanOptions(JSON.stringify(e.faults))
  const needsStake = roles.some((r) => r !== 'requester')
  return Array.from({ length: count as number }, (_v, i) => ({
    name: count === 1 ? (e.name as string) : `${e.name}-${i + 1}`,
    roles: roles as NodeRole[],
    extraRoles: [],
    cheater: faults !== undefined,
    stake: stakeAmount !== undefined ? stakeAmount > 0n : needsStake,
    stakeAmount: stakeAmount ?? DEFAULT_STAKE,
    ...(priceFloor === undefined ? {} : { priceFloor }),
    ...(faults === undefined ? {} : { faults }),
  }))
}

function linkEntry(value: unknown): TestnetLink {
  if (value === undefined) return { ...defaultLink, delayMs: [...defaultLink.delayMs] }
  const link = value as Record<string, unknown>
  const delay = link.delayMs ?? defaultLink.delayMs
  const range = typeof delay === 'number' ? [delay, delay] : delay
  if (
    !Array.isArray(range) ||
    range.length !== 2 ||
    !range.every((d) => Number.isInteger(d) && d >= 0 && d <= 10_000) ||
    range[0] > range[1]
  )
    throw invalid('link.delayMs must be milliseconds, or a [min, max] range of them (0 to 10000)')
  const rate = link.rateMbit ?? defaultLink.rateMbit
  if (typeof rate !== 'number' || !(rate > 0 && rate <= 10_000))
    throw invalid('link.rateMbit must be a number from 0 to 10000')
  return { delayMs: [range[0], range[1]], rateMbit: rate }
}

/** Checks a parsed scenario file; every mistake is a TESTNET_SCENARIO_INVALID naming the field. */
export function parseScenario(value: unknown): TestnetScenario {
  if (typeof value !== 'object' || value === null) throw invalid('a scenario is a JSON object')
  const v = value as Record<string, unknown>
  if (!Array.isArray(v.nodes) || v.nodes.length === 0) throw invalid('the scenario lists no nodes')
  const nodes = v.nodes.flatMap((entry, at) => nodeEntry(entry, at))
  if (nodes.length < 2 || nodes.length > MAX_TESTNET_NODES)
    throw invalid(`a testnet has 2 to ${MAX_TESTNET_NODES} nodes (the scenario makes ${nodes.length})`)
  const names = new Set(nodes.map((n) => n.name))
  if (names.size !== nodes.length) throw invalid('two nodes of the scenario have the same name')
  const seeds = v.seeds ?? DEFAULT_SEEDS
  if (!Number.isInteger(seeds) || (seeds as number) < 1) throw invalid('seeds must be a positive integer')
  return { link: linkEntry(v.link), seeds: seeds as number, nodes }
}

export async function readScenario(path: string): Promise<TestnetScenario> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (cause) {
    throw new TestnetError('TESTNET_SCENARIO_INVALID', `cannot read the scenario file ${path}`, { cause })
  }
  try {
    return parseScenario(JSON.parse(text))
  } catch (cause) {
    if (cause instanceof TestnetError) throw cause
    throw new TestnetError('TESTNET_SCENARIO_INVALID', `the scenario file ${path} is not JSON`, { cause })
  }
}
