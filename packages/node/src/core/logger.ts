/**
 * The node's one logging interface and its pino implementation. Every layer logs through
 * `Logger`; tests pass `silentLogger`. Peer-supplied text is never logged at info or above
 * (it could be crafted to mislead an operator); it goes to debug with the peer id attached.
 */
import { Writable } from 'node:stream'
import { pino } from 'pino'

export const logLevels = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const
export type LogLevel = (typeof logLevels)[number]

/** `auto` pretty-prints when the log stream is a terminal and writes JSON lines otherwise. */
export const logFormats = ['auto', 'json', 'pretty'] as const
export type LogFormat = (typeof logFormats)[number]

export interface LogFn {
  (obj: object, msg?: string): void
  (msg: string): void
}

/**
 * What services accept: structured, levelled, with children carrying bindings
 * (`logger.child({ component: 'api' })`). The subset of pino's API we use, so a pino
 * logger fits as is, and every layer (p2p and artifacts included) takes this same type.
 */
export interface Logger {
  trace: LogFn
  debug: LogFn
  info: LogFn
  warn: LogFn
  error: LogFn
  child(bindings: Record<string, unknown>): Logger
}

export interface LoggerOptions {
  level?: LogLevel
  format?: LogFormat
  /** Logger name (the `name` field of every line). */
  name?: string
  /** Defaults to stderr, so that stdout stays free for command output and `--json`. */
  destination?: NodeJS.WritableStream & { isTTY?: boolean }
}

export const defaultLoggerOptions = {
  level: 'info',
  format: 'auto',
  name: 'ocn',
} as const satisfies LoggerOptions

const levelNames: Record<number, string> = {
  10: 'TRACE',
  20: 'DEBUG',
  30: 'INFO',
  40: 'WARN',
  50: 'ERROR',
  60: 'FATAL',
}

function formatField(value: unknown): string {
  if (typeof value === 'string') return /[\s="]/.test(value) ? JSON.stringify(value) : value
  return JSON.stringify(value) ?? String(value)
}

/** Renders one pino JSON line as `HH:MM:SS.mmm LEVEL name: message key=value ...`. */
export function formatPrettyLine(line: string): string {
  let record: Record<string, unknown>
  try {
    record = JSON.parse(line) as Record<string, unknown>
  } catch {
    return line
  }
  const { time, level, msg, name, pid: _pid, hostname: _hostname, ...fields } = record
  const clock = typeof time === 'number' ? new Date(time).toISOString().slice(11, 23) : ''
  const levelName = (typeof level === 'number' ? levelNames[level] : undefined) ?? String(level)
  const head = `${clock} ${levelName.padEnd(5)} ${typeof name === 'string' ? `${name}: ` : ''}${typeof msg === 'string' ? msg : ''}`
  const tail = Object.entries(fields)
    .map(([key, value]) => `${key}=${formatField(value)}`)
    .join(' ')
  return tail === '' ? head : `${head} ${tail}`
}

/** A line-buffered stream that turns pino's JSON lines into readable text. */
function prettyStream(destination: NodeJS.WritableStream): Writable {
  let pending = ''
  return new Writable({
    write(chunk: Buffer | string, _encoding, callback) {
      pending += chunk.toString()
      const lines = pending.split('\n')
      pending = lines.pop() ?? ''
      for (const line of lines) if (line !== '') destination.write(`${formatPrettyLine(line)}\n`)
      callback()
    },
    final(callback) {
      if (pending !== '') destination.write(`${formatPrettyLine(pending)}\n`)
      callback()
    },
  })
}

/**
 * Creates the daemon's logger: JSON lines (one object per event, for log shippers) or,
 * on a terminal, a compact readable rendering of the same records.
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const destination = options.destination ?? process.stderr
  const format = options.format ?? defaultLoggerOptions.format
  const pretty = format === 'pretty' || (format === 'auto' && destination.isTTY === true)
  const stream = pretty ? prettyStream(destination) : destination
  return pino(
    {
      name: options.name ?? defaultLoggerOptions.name,
      level: options.level ?? defaultLoggerOptions.level,
      base: { pid: process.pid },
      // bigint fields (prices, stakes) would make JSON.stringify throw
      formatters: { log: (object) => bigintSafe(object) as Record<string, unknown> },
    },
    stream,
  )
}

function bigintSafe(value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString()
  if (Array.isArray(value)) return value.map(bigintSafe)
  if (value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.fromEntries(Object.entries(value).map(([key, child]) => [key, bigintSafe(child)]))
  }
  return value
}

/** A logger that drops everything, for callers that want none. */
export function createSilentLogger(): Logger {
  return pino({ level: 'silent' })
}

const noop: LogFn = () => {}

/** A logger that drops everything, without building a pino instance. */
export const silentLogger: Logger = {
  trace: noop,
  debug: noop,
  info: noop,
  warn: noop,
  error: noop,
  child: () => silentLogger,
}
