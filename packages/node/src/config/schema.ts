import { multiaddr } from '@multiformats/multiaddr'
import { parseUnits } from 'viem'
import { type LogFormat, type LogLevel, logFormats, logLevels, type NodeRole, nodeRoles } from './options.js'

/**
 * One table describes every configuration option: its key in the JSON file, its
 * environment variable, its flag, how it is parsed and checked, and its documentation.
 * Validation, environment and flag handling, `ocn config show` and the tests all read it,
 * so an option cannot exist in one place and be missing in another.
 */
export type OptionType = 'string' | 'integer' | 'number' | 'boolean' | 'wei' | 'list' | 'enum' | 'roles'

export interface OptionSpec {
  /** Dotted path in NodeConfig and in the JSON config file. */
  readonly key: string
  readonly type: OptionType
  /** Environment variable that overrides the file. */
  readonly env: string
  /** Long flag (without `--`) that overrides the environment. */
  readonly flag: string
  readonly doc: string
  readonly values?: readonly string[]
  readonly min?: number
  readonly max?: number
  /** Extra check on an already typed value; returns the problem or undefined. */
  readonly check?: (value: never) => string | undefined
}

function checkMultiaddrs(values: string[]): string | undefined {
  for (const value of values) {
    try {
      multiaddr(value)
    } catch {
      return `"${value}" is not a multiaddr (e.g. /ip4/127.0.0.1/tcp/4101)`
    }
  }
  return undefined
}

function checkBootstrap(values: string[]): string | undefined {
  const bad = checkMultiaddrs(values)
  if (bad !== undefined) return bad
  const withoutPeer = values.find((value) => !value.includes('/p2p/'))
  return withoutPeer === undefined ? undefined : `"${withoutPeer}" has no /p2p/<peerId> part`
}

function checkRpcUrl(value: string): string | undefined {
  let url: URL
  try {
    url = new URL(value)
  } catch {
    return `"${value}" is not a URL`
  }
  return ['http:', 'https:', 'ws:', 'wss:'].includes(url.protocol)
    ? undefined
    : `"${value}" must use http, https, ws or wss`
}

function checkDevices(values: string[]): string | undefined {
  const bad = values.find((value) => !/^(cpu|cuda(:\d+)?)$/.test(value))
  if (bad !== undefined) return `"${bad}" is not a device (cpu, cuda or cuda:<index>)`
  return values.length === 0 ? 'at least one device is needed' : undefined
}

function checkNonEmpty(value: string): string | undefined {
  return value.trim() === '' ? 'must not be empty' : undefined
}

export const configOptions: readonly OptionSpec[] = [
  {
    key: 'dataDir',
    type: 'string',
    env: 'OCN_DATA_DIR',
    flag: 'data-dir',
    doc: 'Directory for keys, the state database and runtime files.',
    check: checkNonEmpty,
  },
  {
    key: 'roles',
    type: 'roles',
    env: 'OCN_ROLES',
    flag: 'role',
    values: nodeRoles,
    doc: 'Roles this daemon plays: provider, verifier (challenger and juror), requester (several allowed).',
  },
  {
    key: 'logLevel',
    type: 'enum',
    env: 'OCN_LOG_LEVEL',
    flag: 'log-level',
    values: logLevels,
    doc: 'Log level.',
  },
  {
    key: 'logFormat',
    type: 'enum',
    env: 'OCN_LOG_FORMAT',
    flag: 'log-format',
    values: logFormats,
    doc: 'Log format: json lines, pretty text, or auto (pretty on a terminal).',
  },
  {
    key: 'network.listen',
    type: 'list',
    env: 'OCN_LISTEN',
    flag: 'listen',
    doc: 'Multiaddrs the libp2p host listens on.',
    check: checkMultiaddrs,
  },
  {
    key: 'network.announce',
    type: 'list',
    env: 'OCN_ANNOUNCE',
    flag: 'announce',
    doc: 'Multiaddrs peers are told to dial instead of the listen addresses (empty: the listen addresses).',
    check: checkMultiaddrs,
  },
  {
    key: 'network.bootstrap',
    type: 'list',
    env: 'OCN_BOOTSTRAP',
    flag: 'bootstrap',
    doc: 'Peers dialled at start, as multiaddrs ending in /p2p/<peerId>.',
    check: checkBootstrap,
  },
  {
    key: 'network.mdns',
    type: 'boolean',
    env: 'OCN_MDNS',
    flag: 'mdns',
    doc: 'Discover local peers with mDNS.',
  },
  {
    key: 'chain.rpcUrl',
    type: 'string',
    env: 'OCN_RPC_URL',
    flag: 'rpc-url',
    doc: 'EVM JSON-RPC endpoint.',
    check: checkRpcUrl,
  },
  {
    key: 'chain.deploymentFile',
    type: 'string',
    env: 'OCN_DEPLOYMENT_FILE',
    flag: 'deployment',
    doc: 'Deployment file with the contract addresses (relative paths resolve against the data dir).',
    check: checkNonEmpty,
  },
  {
    key: 'chain.confirmations',
    type: 'integer',
    env: 'OCN_CONFIRMATIONS',
    flag: 'confirmations',
    min: 0,
    max: 256,
    doc: 'Confirmations awaited before acting on a transaction or event.',
  },
  { key: 'api.enabled', type: 'boolean', env: 'OCN_API', flag: 'api', doc: 'Serve the local HTTP API.' },
  {
    key: 'api.host',
    type: 'string',
    env: 'OCN_API_HOST',
    flag: 'api-host',
    doc: 'Address the local API binds to (keep it on loopback unless a proxy guards it).',
    check: checkNonEmpty,
  },
  {
    key: 'api.port',
    type: 'integer',
    env: 'OCN_API_PORT',
    flag: 'api-port',
    min: 0,
    max: 65_535,
    doc: 'Port of the local API (0 picks a free one).',
  },
  {
    key: 'metrics.enabled',
    type: 'boolean',
    env: 'OCN_METRICS',
    flag: 'metrics',
    doc: 'Serve Prometheus metrics at GET /metrics.',
  },
  {
    key: 'provider.devices',
    type: 'list',
    env: 'OCN_PROVIDER_DEVICES',
    flag: 'device',
    doc: 'Execution devices offered: cpu, cuda, cuda:<index>.',
    check: checkDevices,
  },
  {
    key: 'provider.priceFloorPerSample',
    type: 'wei',
    env: 'OCN_PROVIDER_PRICE_FLOOR',
    flag: 'price-floor',
    doc: 'Lowest price bid per sample or training step, in token base units or "<amount> OPEN".',
  },
  {
    key: 'provider.maxConcurrentJobs',
    type: 'integer',
    env: 'OCN_PROVIDER_MAX_JOBS',
    flag: 'max-jobs',
    min: 1,
    max: 1_024,
    doc: 'Jobs executed at once; offers beyond that are not bid on.',
  },
  {
    key: 'provider.collateral.priceMultiple',
    type: 'number',
    env: 'OCN_PROVIDER_COLLATERAL_MULTIPLE',
    flag: 'collateral-multiple',
    min: 0,
    max: 1_000,
    doc: "Collateral per bid as a multiple of the bid price (never below the offer's minimum stake).",
  },
  {
    key: 'provider.collateral.maxLockedFraction',
    type: 'number',
    env: 'OCN_PROVIDER_MAX_LOCKED_FRACTION',
    flag: 'max-locked-fraction',
    min: 0,
    max: 1,
    doc: 'Largest fraction of the stake locked as collateral across running jobs.',
  },
  {
    key: 'provider.models.onlyApproved',
    type: 'boolean',
    env: 'OCN_PROVIDER_ONLY_APPROVED_MODELS',
    flag: 'provider-only-approved-models',
    doc: 'Bid only on offers whose model is Approved in the ModelRegistry (the deployment must name one).',
  },
  {
    key: 'provider.prebidFetchMaxBytes',
    type: 'integer',
    env: 'OCN_PROVIDER_PREBID_FETCH_MAX_BYTES',
    flag: 'prebid-fetch-max-bytes',
    min: 0,
    max: 1_073_741_824,
    doc: 'Offers whose model and inputs are each at most this many bytes are fetched and checked before bidding (0: off).',
  },
  {
    key: 'provider.prebidTimeoutMs',
    type: 'integer',
    env: 'OCN_PROVIDER_PREBID_TIMEOUT_MS',
    flag: 'prebid-timeout-ms',
    min: 1,
    max: 600_000,
    doc: "The least milliseconds a bid waits for that check (it waits until half the time left before the offer's bidding end when that is longer); an offer not checked by then gets no bid.",
  },
  {
    key: 'provider.payoutToBalance',
    type: 'boolean',
    env: 'OCN_PROVIDER_PAYOUT_TO_BALANCE',
    flag: 'payout-to-balance',
    doc: 'Have payouts of jobs awarded from now on credited to the market balance (no token transfer, ~15 000 gas less per job; cash out with `ocn market withdraw`) instead of transferred; applied on-chain at start when it differs.',
  },
  {
    key: 'provider.settlementBatchMax',
    type: 'integer',
    env: 'OCN_PROVIDER_SETTLEMENT_BATCH_MAX',
    flag: 'settlement-batch-max',
    min: 1,
    max: 256,
    doc: 'The most jobs committed or finalized in one transaction: commits ready while another is being sent share the next one, and each tick finalizes all due jobs at once (1: a transaction per job).',
  },
  {
    key: 'provider.finalizeDelayMs',
    type: 'integer',
    env: 'OCN_PROVIDER_FINALIZE_DELAY_MS',
    flag: 'finalize-delay-ms',
    min: 0,
    max: 86_400_000,
    doc: 'How long a job past its challenge window may wait for others to be finalized with it in one transaction (0: at once); later payment and collateral locked longer, for fewer transactions.',
  },
  {
    key: 'verifier.targetDetectionProbability',
    type: 'number',
    env: 'OCN_VERIFIER_DETECTION',
    flag: 'detection-probability',
    min: 0,
    max: 0.999_999,
    doc: 'Target probability of catching a provider that faked results; sets how many samples are checked.',
  },
  {
    key: 'verifier.maxSamplesPerJob',
    type: 'integer',
    env: 'OCN_VERIFIER_MAX_SAMPLES',
    flag: 'max-samples',
    min: 1,
    max: 1_000_000,
    doc: 'Most samples or training segments re-executed per job (the cost cap of one check).',
  },
  {
    key: 'verifier.jurorStake',
    type: 'wei',
    env: 'OCN_VERIFIER_JUROR_STAKE',
    flag: 'juror-stake',
    doc: 'Free stake locked into the dispute court\'s juror pool at start, in token base units or "<amount> OPEN" (0: the court minimum).',
  },
  {
    key: 'requester.biddingWindowMs',
    type: 'integer',
    env: 'OCN_REQUESTER_BIDDING_WINDOW_MS',
    flag: 'bidding-window-ms',
    min: 50,
    max: 3_600_000,
    doc: 'Milliseconds bids are collected after an offer is published.',
  },
  {
    key: 'requester.awardGraceMs',
    type: 'integer',
    env: 'OCN_REQUESTER_AWARD_GRACE_MS',
    flag: 'award-grace-ms',
    min: 2_000,
    max: 600_000,
    doc: "Milliseconds kept after bid collection for the award to land before the offer's bidding end (the market refuses later awards).",
  },
  {
    key: 'requester.noShowGraceMs',
    type: 'integer',
    env: 'OCN_REQUESTER_NO_SHOW_GRACE_MS',
    flag: 'no-show-grace-ms',
    min: 0,
    max: 86_400_000,
    doc: 'Milliseconds an awarded provider may stay uncommitted past its announced ETA before the job is re-offered without it.',
  },
  {
    key: 'requester.minPricePerSample',
    type: 'wei',
    env: 'OCN_REQUESTER_MIN_PRICE',
    flag: 'min-bid-price',
    doc: 'Lowest bid taken per sample or training step (token base units or "<amount> OPEN"); cheaper bids are dropped. 0 takes any.',
  },
  {
    key: 'requester.noBidReoffers',
    type: 'integer',
    env: 'OCN_REQUESTER_NO_BID_REOFFERS',
    flag: 'no-bid-reoffers',
    min: 0,
    max: 100,
    doc: 'Times a job that died (no usable bid, failed award, no-show, expiry) is offered again, as a new offer, before it stays failed.',
  },
  {
    key: 'requester.noBidReofferDelayMs',
    type: 'integer',
    env: 'OCN_REQUESTER_NO_BID_REOFFER_DELAY_MS',
    flag: 'no-bid-reoffer-delay-ms',
    min: 0,
    max: 3_600_000,
    doc: 'Milliseconds between the first failed bidding round and its re-offer, doubled for each later round up to 60 s (busy providers free their slots, slow checks before bidding finish meanwhile).',
  },
  {
    key: 'requester.maxPrice',
    type: 'wei',
    env: 'OCN_REQUESTER_MAX_PRICE',
    flag: 'max-price',
    doc: 'Highest total price escrowed for one job, in token base units or "<amount> OPEN".',
  },
  {
    key: 'requester.models.onlyApproved',
    type: 'boolean',
    env: 'OCN_REQUESTER_ONLY_APPROVED_MODELS',
    flag: 'requester-only-approved-models',
    doc: 'Submit and award jobs only on models Approved in the ModelRegistry (the deployment must name one).',
  },
  {
    key: 'requester.awardBatchMax',
    type: 'integer',
    env: 'OCN_REQUESTER_AWARD_BATCH_MAX',
    flag: 'award-batch-max',
    min: 1,
    max: 256,
    doc: 'The most jobs awarded in one transaction: awards ready while another is being sent share the next one (1: a transaction per award).',
  },
]

export type ParsedOptionValue =
  | string
  | number
  | boolean
  | bigint
  | string[]
  | NodeRole[]
  | LogLevel
  | LogFormat

const TOKEN_DECIMALS = 18

/** Parses a token amount: an integer in base units, or a decimal followed by `OPEN`. */
export function parseTokenAmount(text: string): bigint | undefined {
  const trimmed = text.trim()
  if (/^\d+$/.test(trimmed)) return BigInt(trimmed)
  const match = /^(\d+(?:\.\d+)?)\s*OPEN$/i.exec(trimmed)
  if (match === null) return undefined
  const [whole = '', fraction = ''] = match[1]!.split('.')
  if (fraction.length > TOKEN_DECIMALS) return undefined
  return parseUnits(`${whole}.${fraction === '' ? '0' : fraction}`, TOKEN_DECIMALS)
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value)
  if (typeof value === 'bigint') return value.toString()
  try {
    return JSON.stringify(value) ?? String(value)
  } catch {
    return String(value)
  }
}

/** What a value must look like, for error messages. */
export function expectation(spec: OptionSpec): string {
  switch (spec.type) {
    case 'string':
      return 'a string'
    case 'integer':
      return `an integer from ${spec.min ?? '-∞'} to ${spec.max ?? '∞'}`
    case 'number':
      return `a number from ${spec.min ?? '-∞'} to ${spec.max ?? '∞'}`
    case 'boolean':
      return 'true or false'
    case 'wei':
      return 'a token amount: an integer in base units or "<amount> OPEN"'
    case 'list':
      return 'a list of strings'
    case 'enum':
      return `one of ${spec.values?.join(', ')}`
    case 'roles':
      return `a list of roles from ${spec.values?.join(', ')}`
  }
}

export type ParseResult = { ok: true; value: ParsedOptionValue } | { ok: false; problem: string }

function fail(spec: OptionSpec, value: unknown, why?: string): ParseResult {
  return { ok: false, problem: why ?? `must be ${expectation(spec)} (got ${describe(value)})` }
}

function finish(spec: OptionSpec, value: ParsedOptionValue): ParseResult {
  if (spec.check !== undefined) {
    const problem = spec.check(value as never)
    if (problem !== undefined) return { ok: false, problem }
  }
  return { ok: true, value }
}

function checkRange(spec: OptionSpec, value: number, raw: unknown): ParseResult {
  if ((spec.min !== undefined && value < spec.min) || (spec.max !== undefined && value > spec.max)) {
    return fail(spec, raw)
  }
  return finish(spec, value)
}

/** Parses a value read from the JSON config file (typed JSON, not text). */
export function parseJsonValue(spec: OptionSpec, raw: unknown): ParseResult {
  switch (spec.type) {
    case 'string':
      return typeof raw === 'string' ? finish(spec, raw) : fail(spec, raw)
    case 'integer':
      return typeof raw === 'number' && Number.isSafeInteger(raw)
        ? checkRange(spec, raw, raw)
        : fail(spec, raw)
    case 'number':
      return typeof raw === 'number' && Number.isFinite(raw) ? checkRange(spec, raw, raw) : fail(spec, raw)
    case 'boolean':
      return typeof raw === 'boolean' ? finish(spec, raw) : fail(spec, raw)
    case 'wei': {
      // JSON numbers lose precision above 2^53, so large amounts must be strings.
      if (typeof raw === 'number' && Number.isSafeInteger(raw) && raw >= 0) return finish(spec, BigInt(raw))
      if (typeof raw !== 'string') return fail(spec, raw)
      const amount = parseTokenAmount(raw)
      return amount === undefined ? fail(spec, raw) : finish(spec, amount)
    }
    case 'list':
      return Array.isArray(raw) && raw.every((item) => typeof item === 'string')
        ? finish(spec, [...(raw as string[])])
        : fail(spec, raw)
    case 'enum':
      return typeof raw === 'string' && spec.values?.includes(raw) === true
        ? finish(spec, raw as LogLevel)
        : fail(spec, raw)
    case 'roles': {
      if (!Array.isArray(raw)) return fail(spec, raw)
      const unknown = raw.find((item) => typeof item !== 'string' || spec.values?.includes(item) !== true)
      if (unknown !== undefined)
        return fail(spec, raw, `${describe(unknown)} is not a role (${spec.values?.join(', ')})`)
      return finish(spec, [...new Set(raw as NodeRole[])])
    }
  }
}

function splitList(text: string): string[] {
  return text
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '')
}

/**
 * Parses text from an environment variable or a flag. Lists are comma separated (a
 * repeatable flag passes several texts, which are concatenated).
 */
export function parseTextValue(spec: OptionSpec, texts: readonly string[]): ParseResult {
  const text = texts.at(-1) ?? ''
  switch (spec.type) {
    case 'string':
      return finish(spec, text)
    case 'integer': {
      if (!/^-?\d+$/.test(text.trim())) return fail(spec, text)
      return parseJsonValue(spec, Number(text.trim()))
    }
    case 'number': {
      const value = Number(text.trim())
      if (text.trim() === '' || !Number.isFinite(value)) return fail(spec, text)
      return parseJsonValue(spec, value)
    }
    case 'boolean': {
      const lowered = text.trim().toLowerCase()
      if (['1', 'true', 'yes', 'on'].includes(lowered)) return finish(spec, true)
      if (['0', 'false', 'no', 'off'].includes(lowered)) return finish(spec, false)
      return fail(spec, text)
    }
    case 'wei':
      return parseJsonValue(spec, text)
    case 'enum':
      return parseJsonValue(spec, text.trim())
    case 'list':
    case 'roles':
      return parseJsonValue(spec, texts.flatMap(splitList))
  }
}

export function findOption(key: string): OptionSpec | undefined {
  return configOptions.find((spec) => spec.key === key)
}
