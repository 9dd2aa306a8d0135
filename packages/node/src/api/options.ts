export interface ApiServerOptions {
  host?: string
  /** 0 picks a free port. */
  port?: number
  /** GET requests carry no body; anything above this is refused with 413. */
  maxBodyBytes?: number
  /** `POST /jobs` carries a small JSON body (file paths, not file contents). */
  maxJobBodyBytes?: number
  maxUrlLength?: number
  maxHeaderBytes?: number
  /** Time for a whole request to arrive (slowloris guard). */
  requestTimeoutMs?: number
  headersTimeoutMs?: number
  keepAliveTimeoutMs?: number
  /** Time a provider has to answer before the client gets 504. */
  handlerTimeoutMs?: number
  /** Time `POST /jobs` has: the requester hashes and stores the job's files before offering it. */
  submitTimeoutMs?: number
}

export const defaultApiServerOptions = {
  host: '127.0.0.1',
  port: 7410,
  maxBodyBytes: 1024,
  maxJobBodyBytes: 16 * 1024,
  maxUrlLength: 2048,
  maxHeaderBytes: 16 * 1024,
  requestTimeoutMs: 10_000,
  headersTimeoutMs: 5_000,
  keepAliveTimeoutMs: 5_000,
  handlerTimeoutMs: 10_000,
  submitTimeoutMs: 60_000,
} as const satisfies Required<ApiServerOptions>
