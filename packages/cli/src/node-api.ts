/**
 * The CLI's way to a running node's HTTP API: @ocn/client (the one client the console and
 * applications use too), with its errors told as the CLI has always told them, as ApiErrors
 * with the same codes, messages and exit status, so scripts reading `--json` see no change.
 */
import { ClientError, createOcnClient, NodeApiError, type OcnClient } from '@ocn/client'
import { ApiError, type ApiErrorCode, apiErrorStatus } from '@ocn/node'
import { CliError } from './errors.js'

/** What one API call is for: reads and writes word their failures differently. */
export type ApiCallKind = 'read' | 'write'

/** Time for a read's answer, as the CLI has always allowed. */
const READ_TIMEOUT_MS = 5_000
/** Largest JSON answer a command reads. */
const MAX_RESPONSE_BYTES = 4 * 1024 * 1024

export interface NodeApi {
  /** The node's API origin, e.g. `http://127.0.0.1:7410`. */
  readonly url: string
  /** Reads (no token: a read on loopback needs none, and a wrong one would be refused). */
  readonly reader: OcnClient
  /** Writes (POSTs), with the data dir's API token when there is one. */
  readonly writer: OcnClient
  /** Runs one client call, turning its failure into the CLI's ApiError. */
  call<T>(kind: ApiCallKind, run: (client: OcnClient) => Promise<T>): Promise<T>
}

export function connectNodeApi(url: string, token?: string): NodeApi {
  const options = { url, timeoutMs: READ_TIMEOUT_MS, maxResponseBytes: MAX_RESPONSE_BYTES }
  const reader = createOcnClient(options)
  const writer = createOcnClient({ ...options, ...(token === undefined ? {} : { token }) })
  return {
    url: reader.url,
    reader,
    writer,
    async call(kind, run) {
      try {
        return await run(kind === 'read' ? reader : writer)
      } catch (error) {
        throw cliApiError(error, reader.url, kind)
      }
    },
  }
}

/** The system error code (ECONNREFUSED, ...) somewhere in a fetch failure's cause chain. */
function systemCode(error: ClientError): string | undefined {
  const found = error.walk(
    (e) =>
      !(e instanceof ClientError) && e instanceof Error && typeof (e as { code?: unknown }).code === 'string',
  )
  return found === undefined ? undefined : String((found as { code?: unknown }).code)
}

/** A client failure as the CLI reports it; anything else passes through unchanged. */
export function cliApiError(error: unknown, url: string, kind: ApiCallKind): unknown {
  if (error instanceof NodeApiError) {
    if (kind === 'read')
      return new ApiError(
        'API_BAD_RESPONSE',
        `the node API answered ${error.status}: ${error.shortMessage}`,
        {
          details: error.code,
        },
      )
    const code = error.code in apiErrorStatus ? (error.code as ApiErrorCode) : 'API_BAD_RESPONSE'
    return new ApiError(code, error.shortMessage, {
      details: error.reason === undefined ? undefined : `reason ${error.reason}`,
    })
  }
  if (!(error instanceof ClientError)) return error
  switch (error.code) {
    case 'CLIENT_UNREACHABLE':
      return new ApiError(
        'API_UNREACHABLE',
        `cannot reach the node API at ${url}: ${kind === 'read' ? 'is the daemon running (ocn start)?' : 'is the daemon running?'}`,
        { cause: error, details: systemCode(error) ?? error.shortMessage },
      )
    case 'CLIENT_TIMEOUT':
      return new ApiError('API_UNREACHABLE', error.shortMessage.replace('the node at', 'the node API at'), {
        cause: error,
      })
    case 'CLIENT_INVALID_INPUT':
      return new CliError('CLI_USAGE', error.shortMessage, { details: error.details })
    default:
      return new ApiError('API_BAD_RESPONSE', error.shortMessage.replace('the node at', 'the node API at'), {
        cause: error,
        details: error.details,
      })
  }
}
