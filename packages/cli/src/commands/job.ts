/**
 * `ocn job submit|status|results`: the requester's side of a job, through the local API of
 * the running requester daemon (`ocn start --role requester`). Files are named by path: the
 * daemon reads them from this machine, nothing is uploaded through the API.
 */
import { createHash } from 'node:crypto'
import { createWriteStream } from 'node:fs'
import { mkdir, rename, rm, stat } from 'node:fs/promises'
import { request } from 'node:http'
import { join, resolve } from 'node:path'
import type { JobRecord, JobResults, NodeConfig, SubmitJobRequest } from '@ocn/node'
import {
  ApiError,
  type ApiJson,
  apiGet,
  apiPost,
  apiRoutes,
  NodeError,
  readApiRuntimeFile,
  readApiToken,
} from '@ocn/node'
import { formatEther } from 'viem'
import { type Command, type CommandContext, stringFlag } from '../command.js'
import { loadConfigFor } from '../context.js'
import { CliError, EXIT_FAILURE } from '../errors.js'
import { createProgressBar } from '../progress.js'
import { parseOpenAmount } from './chain-access.js'
import {
  awaitGeneratedTokens,
  generateFlags,
  generateOptions,
  readTokenText,
  streamedTokensPrinter,
  tokensText,
} from './job-generate.js'

export type JobCommandErrorCode = 'JOB_FILE_MISSING' | 'JOB_NOT_FOUND' | 'JOB_NO_RESULTS' | 'JOB_TIMEOUT'

export class JobCommandError extends NodeError<JobCommandErrorCode> {
  override name = 'JobCommandError'
}

const TERMINAL = new Set(['finalized', 'slashed', 'expired', 'failed'])

const apiUrlFlag = {
  'api-url': {
    type: 'string' as const,
    value: '<url>',
    description: "requester daemon's API (default: the one announced in the data dir)",
  },
}

/** The API of the daemon to talk to: --api-url, else the one announced in the data dir, else the config. */
export async function resolveApiUrl(context: CommandContext, config: NodeConfig): Promise<string> {
  const flag = stringFlag(context.flags, 'api-url')
  if (flag !== undefined) {
    try {
      const url = new URL(flag)
      if (url.protocol !== 'http:') throw new Error('not http')
      return url.origin
    } catch {
      throw new CliError(
        'CLI_USAGE',
        `--api-url must be an http URL such as http://127.0.0.1:7410 (got "${flag}")`,
      )
    }
  }
  const announced = await readApiRuntimeFile(config.dataDir)
  if (announced !== undefined) return announced.url
  const host = config.api.host.includes(':') ? `[${config.api.host}]` : config.api.host
  return `http://${host}:${config.api.port}`
}

async function existingFile(
  context: CommandContext,
  flag: string,
  what: string,
): Promise<string | undefined> {
  const value = stringFlag(context.flags, flag)
  if (value === undefined) return undefined
  const path = resolve(context.io.cwd, value)
  let isFile = false
  try {
    isFile = (await stat(path)).isFile()
  } catch {
    throw new JobCommandError('JOB_FILE_MISSING', `no ${what} at ${path} (--${flag})`)
  }
  if (!isFile) throw new JobCommandError('JOB_FILE_MISSING', `${path} is not a file (--${flag})`)
  return path
}

function checkJobId(id: string | undefined, usage: string): string {
  if (id === undefined) throw new CliError('CLI_USAGE', `the job id is missing; usage: ${usage}`)
  if (!/^[A-Za-z0-9_-]{1,130}$/.test(id)) throw new CliError('CLI_USAGE', `"${id}" is not a job id`)
  return id
}

/** Maps a 404 from the API onto "unknown job". */
async function fetchJob(api: string, id: string): Promise<ApiJson<JobRecord>> {
  try {
    return await apiGet(api, apiRoutes.job, { id })
  } catch (error) {
    if (error instanceof ApiError && error.details === 'API_NOT_FOUND')
      throw new JobCommandError('JOB_NOT_FOUND', `the node at ${api} knows no job ${id}`, {
        details: 'ask the requester that submitted it',
      })
    throw error
  }
}

function jobJson(job: ApiJson<JobRecord>): Record<string, unknown> {
  return JSON.parse(JSON.stringify(job, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)))
}

function price(value: unknown): string {
  return value === undefined || value === null ? '-' : `${formatEther(BigInt(value as string))} OPEN`
}

function jobText(job: ApiJson<JobRecord>): string {
  const lines = [
    `job ${job.id}`,
    `  state      ${job.state}`,
    `  kind       ${job.kind} (${job.verification})`,
    `  provider   ${job.provider ?? '-'}`,
    `  price      ${price(job.price)}${job.maxPrice === undefined ? '' : ` (max ${price(job.maxPrice)})`}`,
  ]
  if (job.resultRoot !== undefined) lines.push(`  result     ${job.resultRoot}`)
  lines.push('  history')
  const start = job.history[0]?.at ?? job.createdAt
  for (const entry of job.history) {
    const tx = entry.txHash === undefined ? '' : ` tx ${entry.txHash}`
    lines.push(
      `    +${((entry.at - start) / 1000).toFixed(1)}s ${entry.state}${tx}${entry.note === undefined ? '' : ` (${entry.note})`}`,
    )
  }
  return lines.join('\n')
}

interface SubmitOptions {
  body: ApiJson<SubmitJobRequest>
  /** --timeout as given (seconds), for the follow loop and its error message. */
  timeoutText: string
}

/** `ocn job submit`'s flags, checked in the order the usage errors are reported. */
async function parseSubmitOptions(context: CommandContext, usage: string): Promise<SubmitOptions> {
  const modelPath = await existingFile(context, 'model', 'model file')
  const inputsPath = await existingFile(context, 'inputs', 'inputs file')
  if (modelPath === undefined || inputsPath === undefined)
    throw new CliError('CLI_USAGE', `--model and --inputs are required; usage: ${usage}`)
  const trainingSpecPath = await existingFile(context, 'training', 'training spec')
  const datanetManifestPath = await existingFile(context, 'datanet', 'datanet manifest')
  if (datanetManifestPath !== undefined && trainingSpecPath === undefined)
    throw new CliError('CLI_USAGE', '--datanet goes with --training (a training spec that names attribution)')
  const verification = stringFlag(context.flags, 'verification') ?? 'replay'
  if (verification !== 'replay' && verification !== 'zk')
    throw new CliError('CLI_USAGE', `--verification must be replay or zk (got "${verification}")`)
  const maxPriceText = stringFlag(context.flags, 'max-price')
  const microBatch = stringFlag(context.flags, 'micro-batch')
  if (microBatch !== undefined && !/^[1-9]\d{0,5}$/.test(microBatch))
    throw new CliError('CLI_USAGE', `--micro-batch must be a positive integer (got "${microBatch}")`)
  const timeoutText = stringFlag(context.flags, 'timeout') ?? '900'
  if (!/^[1-9]\d{0,5}$/.test(timeoutText))
    throw new CliError('CLI_USAGE', `--timeout must be a number of seconds (got "${timeoutText}")`)
  const body: ApiJson<SubmitJobRequest> = {
    modelPath,
    inputsPath,
    kind: trainingSpecPath === undefined ? 'inference' : 'training',
    verification,
    ...(trainingSpecPath === undefined ? {} : { trainingSpecPath }),
    ...(datanetManifestPath === undefined ? {} : { datanetManifestPath }),
    ...(maxPriceText === undefined
      ? {}
      : { maxPrice: parseOpenAmount(maxPriceText, '--max-price').toString() }),
    ...(microBatch === undefined ? {} : { microBatchSize: Number(microBatch) }),
    ...sequenceOptions(context, trainingSpecPath !== undefined || verification === 'zk'),
    ...generateOptions(
      context,
      trainingSpecPath !== undefined
        ? '--training'
        : verification === 'zk'
          ? '--verification zk'
          : context.flags.state !== undefined
            ? '--state'
            : undefined,
    ),
  }
  return { body, timeoutText }
}

/** The values of a repeatable `name=value` flag, split at the first '='. */
function pairFlags(context: CommandContext, flag: string, shape: string): [string, string][] {
  const raw = context.flags[flag]
  const values = raw === undefined ? [] : Array.isArray(raw) ? raw : [raw]
  return values.map((v) => {
    const text = String(v)
    const at = text.indexOf('=')
    if (at <= 0 || at === text.length - 1)
      throw new CliError('CLI_USAGE', `--${flag} takes ${shape} (got "${text}")`)
    return [text.slice(0, at), text.slice(at + 1)]
  })
}

/** --input-axis and --state: the inputs' batch axes, and a sequence job's state pairs. */
function sequenceOptions(
  context: CommandContext,
  notInference: boolean,
): Pick<ApiJson<SubmitJobRequest>, 'inputAxes' | 'state'> {
  const axes = pairFlags(context, 'input-axis', '<input>=<axis|broadcast>')
  const inputAxes: Record<string, number | 'broadcast'> = {}
  for (const [name, axis] of axes) {
    if (axis !== 'broadcast' && !/^\d{1,2}$/.test(axis))
      throw new CliError(
        'CLI_USAGE',
        `--input-axis ${name}= takes an axis number or broadcast (got "${axis}")`,
      )
    inputAxes[name] = axis === 'broadcast' ? 'broadcast' : Number(axis)
  }
  const state = pairFlags(context, 'state', '<output>=<input>').map(([output, input]) => ({ output, input }))
  if (state.length > 0 && notInference)
    throw new CliError(
      'CLI_USAGE',
      '--state makes a sequence job: it does not go with --training or --verification zk',
    )
  return {
    ...(axes.length === 0 ? {} : { inputAxes }),
    ...(state.length === 0 ? {} : { state }),
  }
}

/** The line `ocn job submit` prints when a job first reaches a lifecycle state. */
function stepLine(job: ApiJson<JobRecord>, state: string): string {
  const who =
    state === 'awarded' && job.provider !== undefined ? ` to ${job.provider} at ${price(job.price)}` : ''
  const what =
    state === 'committed'
      ? ' (result committed; the verification window is open)'
      : state === 'challenged'
        ? ' (a verifier disputes the result)'
        : ''
  return `  ${state}${who}${what}\n`
}

/** How long a failed or expired job without a re-offer mark must stay so before it counts as the end. */
const SETTLE_MS = 3_000

/**
 * Where a job record leads: to the job it was re-offered as, to a re-offer the requester has
 * scheduled, to its end, or nowhere yet (still running, or just failed and not yet marked).
 */
type JobLead = { to: 'reoffer'; id: string } | { to: 'pending' } | { to: 'end' } | { to: 'open' }

function leadOf(job: ApiJson<JobRecord>, settled: boolean): JobLead {
  const detail = job.detail as { reofferedAs?: unknown; reofferDueAt?: unknown } | undefined
  // a no-show's job is re-offered while its old award still runs to its deadline: follow the new one
  if (typeof detail?.reofferedAs === 'string') return { to: 'reoffer', id: detail.reofferedAs }
  if (!TERMINAL.has(job.state)) return { to: 'open' }
  if (job.state === 'finalized' || job.state === 'slashed') return { to: 'end' }
  if (typeof detail?.reofferDueAt === 'number') return { to: 'pending' }
  if ((job.history.at(-1)?.note ?? '').includes('re-offered')) return { to: 'pending' }
  // the requester marks the re-offer right after the transition: give it a moment
  return settled ? { to: 'end' } : { to: 'open' }
}

/** The bar over a job's bidding window, updated on each poll. */
function biddingBar(context: CommandContext) {
  let bar: ReturnType<typeof createProgressBar> | undefined
  return {
    update(job: ApiJson<JobRecord>): void {
      const closesAt = (job.detail as { biddingClosesAt?: number } | undefined)?.biddingClosesAt
      if (closesAt === undefined) return
      if (job.state === 'bidding' && bar === undefined) {
        bar = createProgressBar({
          stream: context.io.stdout,
          label: 'bidding window',
          total: Math.max(1, closesAt - job.createdAt),
          unit: 'ms',
          silent: context.json,
        })
      }
      if (bar === undefined) return
      bar.update(Math.min(closesAt - job.createdAt, Date.now() - job.createdAt))
      if (job.state !== 'bidding' && job.state !== 'offered')
        this.finish(job.state === 'awarded' ? 'bids collected' : job.state)
    },
    finish(text: string): void {
      bar?.finish(text)
      bar = undefined
    },
  }
}

/**
 * Follows a submitted job to its end: a bar over each bidding window, one line per lifecycle
 * step (nothing but the final JSON with --json), and on through every re-offer the requester
 * makes (no usable bid, no award, a no-show, an expiry), so only a job that really ends
 * without a result ends the command with a failure.
 */
async function followJob(
  context: CommandContext,
  api: string,
  jobId: string,
  timeoutText: string,
  tokens?: ReturnType<typeof streamedTokensPrinter>,
): Promise<ApiJson<JobRecord>> {
  const out = context.io.stdout
  const deadline = Date.now() + Number(timeoutText) * 1000
  let shown = new Set<string>()
  let bar = biddingBar(context)
  let id = jobId
  let sameSince = { state: '', at: Date.now() }
  for (;;) {
    const job = await fetchJob(api, id)
    bar.update(job)
    for (const entry of job.history) {
      if (shown.has(entry.state)) continue
      shown.add(entry.state)
      if (context.json || entry.state === 'bidding') continue
      tokens?.breakLine()
      out.write(stepLine(job, entry.state))
    }
    tokens?.onJob(job)
    if (job.state !== sameSince.state) sameSince = { state: job.state, at: Date.now() }
    const lead = leadOf(job, Date.now() - sameSince.at >= SETTLE_MS)
    if (lead.to === 'end') return job
    if (lead.to === 'reoffer') {
      const why = job.history.at(-1)?.note
      bar.finish(job.state)
      if (!context.json) out.write(`  re-offered as ${lead.id}${why === undefined ? '' : ` (${why})`}\n`)
      ;[id, shown, bar, sameSince] = [lead.id, new Set(), biddingBar(context), { state: '', at: Date.now() }]
      continue
    }
    if (Date.now() > deadline)
      throw new JobCommandError('JOB_TIMEOUT', `job ${id} is still ${job.state} after ${timeoutText} s`, {
        details: `follow it with \`ocn job status ${id}\``,
      })
    await new Promise((r) => setTimeout(r, 250))
  }
}

export const jobSubmitCommand: Command = {
  path: ['job', 'submit'],
  summary: 'put a job on the market through the running requester and follow it to settlement',
  usage:
    'ocn job submit --model <file> --inputs <file> [--training <spec> [--datanet <manifest>]] [--verification replay|zk] [--max-price <OPEN>] [--micro-batch <n>] [--input-axis <input>=<axis|broadcast>]... [--state <output>=<input>]... [--generate <n> [--stop-token <id>]... [--temperature <t>] [--top-k <k>] [--top-p <p>] [--seed <text>] [--vocab <file>]] [--no-wait]',
  configFlags: false,
  maxPositionals: 0,
  flags: {
    model: { type: 'string', value: '<file>', description: 'ONNX model' },
    inputs: {
      type: 'string',
      value: '<file>',
      description: 'inputs (.safetensors or .npy), or the training dataset',
    },
    training: {
      type: 'string',
      value: '<spec>',
      description: 'training spec (JSON): makes this a training job',
    },
    datanet: {
      type: 'string',
      value: '<manifest>',
      description: 'datanet manifest (JSON) for a training spec that names attribution',
    },
    verification: { type: 'string', value: '<mode>', description: 'replay (default) or zk' },
    'max-price': { type: 'string', value: '<OPEN>', description: 'most this job may cost, e.g. 0.5' },
    'micro-batch': {
      type: 'string',
      value: '<n>',
      description: 'samples per micro-batch (one Merkle leaf each)',
    },
    'input-axis': {
      type: 'string',
      multiple: true,
      value: '<input>=<axis|broadcast>',
      description:
        "an input's batch axis (any axis), or broadcast: given whole to every micro-batch (scalars are); inferred from the model when left out",
    },
    state: {
      type: 'string',
      multiple: true,
      value: '<output>=<input>',
      description:
        'a state pair of a stateful sequence job: the output that feeds the input at the next chunk (makes this a sequence job)',
    },
    ...generateFlags,
    'no-wait': { type: 'boolean', description: 'print the job id and return at once' },
    timeout: {
      type: 'string',
      value: '<seconds>',
      description: 'give up following after this long (default 900)',
    },
    ...apiUrlFlag,
  },
  async run(context) {
    const { body, timeoutText } = await parseSubmitOptions(context, this.usage)
    // --max-price here is the job's own limit, not the config option of the same flag name.
    const { 'max-price': _jobMaxPrice, ...configFlags } = context.flags
    const { config } = await loadConfigFor({ ...context, flags: configFlags })
    const api = await resolveApiUrl(context, config)
    const token = await readApiToken(config.dataDir)
    // a generate job's tokens as the provider streams them, on a terminal
    const vocab = stringFlag(context.flags, 'vocab')
    const printer =
      body.generate !== undefined && !context.json && context.io.stdout.isTTY === true
        ? streamedTokensPrinter(
            (text) => context.io.stdout.write(text),
            vocab === undefined ? undefined : await readTokenText(vocab),
          )
        : undefined
    const { jobId } = await apiPost(api, apiRoutes.submitJob, {}, body, { token })
    if (context.flags['no-wait'] === true) return { json: { jobId }, text: jobId }
    if (!context.json) context.io.stdout.write(`submitted job ${jobId}\n`)
    const job = await followJob(context, api, jobId, timeoutText, printer)
    printer?.breakLine()
    // a generate job's tokens, once the requester has checked them against the committed leaves
    const generated =
      body.generate !== undefined && job.state === 'finalized'
        ? await awaitGeneratedTokens(() => fetchJob(api, job.id))
        : undefined
    return {
      json: { ...jobJson(job), ...(generated === undefined ? {} : { generated }) },
      text: generated === undefined ? jobText(job) : `${jobText(job)}\n${tokensText(generated)}`,
      ...(job.state === 'finalized' ? {} : { exitCode: EXIT_FAILURE }),
    }
  },
}

export const jobStatusCommand: Command = {
  path: ['job', 'status'],
  summary: 'show a job as the local daemon records it, with its history',
  usage: 'ocn job status <id> [--api-url <url>]',
  configFlags: false,
  maxPositionals: 1,
  flags: { ...apiUrlFlag },
  async run(context) {
    const id = checkJobId(context.positionals[0], this.usage)
    const { config } = await loadConfigFor(context)
    const job = await fetchJob(await resolveApiUrl(context, config), id)
    return { json: jobJson(job), text: jobText(job) }
  },
}

/** Downloads one result file into `dir`, checking its hash, through a temporary name. */
function download(
  api: string,
  id: string,
  name: string,
  dir: string,
  hash: string | undefined,
): Promise<number> {
  const target = join(dir, name)
  const partial = `${target}.partial`
  return new Promise<number>((resolvePromise, reject) => {
    const req = request(
      new URL(apiRoutes.jobResultFile.path({ id, name }), api),
      { timeout: 30_000 },
      (res) => {
        if ((res.statusCode ?? 500) !== 200) {
          res.resume()
          reject(new ApiError('API_BAD_RESPONSE', `the node did not serve ${name} (HTTP ${res.statusCode})`))
          return
        }
        const digest = createHash('sha256')
        let bytes = 0
        const file = createWriteStream(partial, { mode: 0o600 })
        res.on('data', (chunk: Buffer) => {
          digest.update(chunk)
          bytes += chunk.length
        })
        res.pipe(file)
        file.on('error', reject)
        res.on('error', reject)
        file.on('finish', () => {
          const got = `0x${digest.digest('hex')}`
          if (hash !== undefined && got !== hash.toLowerCase()) {
            reject(
              new ApiError('API_BAD_RESPONSE', `${name} does not match its hash`, {
                details: `${got} != ${hash}`,
              }),
            )
            return
          }
          rename(partial, target).then(() => resolvePromise(bytes), reject)
        })
      },
    )
    req.on('timeout', () => req.destroy(new ApiError('API_UNREACHABLE', `downloading ${name} stalled`)))
    req.on('error', reject)
    req.end()
  }).catch(async (error: unknown) => {
    await rm(partial, { force: true })
    throw error
  })
}

export const jobResultsCommand: Command = {
  path: ['job', 'results'],
  summary: "download a job's result files (hash-checked) into a directory",
  usage: 'ocn job results <id> --out <dir> [--api-url <url>]',
  configFlags: false,
  maxPositionals: 1,
  flags: {
    out: {
      type: 'string',
      value: '<dir>',
      description: 'directory for the result files (created if missing)',
    },
    ...apiUrlFlag,
  },
  async run(context) {
    const id = checkJobId(context.positionals[0], this.usage)
    const outFlag = stringFlag(context.flags, 'out')
    if (outFlag === undefined) throw new CliError('CLI_USAGE', `--out is required; usage: ${this.usage}`)
    const { config } = await loadConfigFor(context)
    const api = await resolveApiUrl(context, config)
    let results: ApiJson<JobResults>
    try {
      results = await apiGet(api, apiRoutes.jobResults, { id })
    } catch (error) {
      if (error instanceof ApiError && error.details === 'API_NOT_FOUND')
        throw new JobCommandError('JOB_NOT_FOUND', `the node at ${api} knows no job ${id}`)
      throw error
    }
    if (results.files.length === 0)
      throw new JobCommandError('JOB_NO_RESULTS', `job ${id} has no results yet (it is ${results.state})`, {
        details: `wait for it with \`ocn job status ${id}\``,
      })
    const dir = resolve(context.io.cwd, outFlag)
    await mkdir(dir, { recursive: true })
    const files: { name: string; path: string; bytes: number; hash?: string }[] = []
    for (const file of results.files) {
      if (!/^[A-Za-z0-9._-]{1,128}$/.test(file.name) || file.name.startsWith('.'))
        throw new ApiError('API_BAD_RESPONSE', `the node named a result file "${file.name}"`)
      const bytes = await download(api, id, file.name, dir, file.hash)
      files.push({
        name: file.name,
        path: join(dir, file.name),
        bytes,
        ...(file.hash === undefined ? {} : { hash: file.hash }),
      })
    }
    return {
      json: { jobId: id, state: results.state, files },
      text: [`job ${id} (${results.state}):`, ...files.map((f) => `  ${f.path}  ${f.bytes} bytes`)].join(
        '\n',
      ),
    }
  },
}
