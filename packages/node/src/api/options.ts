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
  /**
   * The bearer token (`ocn init` writes it to `<dataDir>/api-token`). Required to bind a
   * non-loopback host; when set, every POST needs it. Empty: no token.
   */
  token?: string
  /** The built console (@ocn/console's dist folder) served at `/`; empty serves none. */
  consoleDir?: string
  /** Under `ocn devnet`: the devnet's board file, served at `GET /devnet`; empty serves none. */
  devnetBoard?: string
  /**
   * Where uploaded files wait for a job (`POST /uploads`): the daemon's `<dataDir>/uploads`,
   * emptied at start. Empty: uploads are not served (503).
   */
  uploadDir?: string
  /** Largest uploaded file. */
  maxUploadBytes?: number
  /** Largest chunk of an upload one request carries. */
  maxUploadChunkBytes?: number
  /** Uploads held at once (unfinished or waiting for a job). */
  maxPendingUploads?: number
  /** Bytes of uploads held at once. */
  maxPendingUploadBytes?: number
  /** Time an upload nobody submits is held. */
  uploadTtlMs?: number
  maxEventStreams?: number
  eventStreamMaxMs?: number
  eventQueueLimit?: number
  eventHeartbeatMs?: number
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
  token: '',
  consoleDir: '',
  devnetBoard: '',
  uploadDir: '',
  maxUploadBytes: 1024 * 1024 * 1024,
  maxUploadChunkBytes: 8 * 1024 * 1024,
  maxPendingUploads: 16,
  maxPendingUploadBytes: 4 * 1024 * 1024 * 1024,
  uploadTtlMs: 30 * 60_000,
  maxEventStreams: 32,
  eventStreamMaxMs: 30 * 60_000,
  eventQueueLimit: 1_000,
  eventHeartbeatMs: 15_000,
} as const satisfies Required<ApiServerOptions>
