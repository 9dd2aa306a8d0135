import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Logger } from '../core/logger.js'
import type { MetricsFactory } from '../metrics/index.js'
import { checkBinding } from './access.js'
import { createRequestDispatch } from './dispatch.js'
import { ApiError } from './errors.js'
import type { ApiProviders } from './interface.js'
import { type ApiServerOptions, defaultApiServerOptions } from './options.js'
import { createUploadStore } from './uploads.js'

export interface ApiServerComponents {
  providers: ApiProviders
  logger: Logger
  metrics?: MetricsFactory
}

export interface ApiServer {
  start(): Promise<void>
  stop(): Promise<void>
  /** `http://host:port` once started. */
  readonly url: string | undefined
  readonly port: number | undefined
}

/**
 * The local HTTP API on node:http. Read-only (GET/HEAD) but for `POST /jobs`, `/uploads`,
 * `/stake`, `/unstake`, `/deposit` and `/withdraw`; the web console's files at `/`; job events at `/events`. JSON with
 * bigints as decimal strings, errors as `{ "error": { "code", "message" } }`. It binds to
 * loopback by default and then also checks the Host header, so a web page cannot reach it
 * by DNS rebinding.
 */
export function createApiServer(init: ApiServerOptions, components: ApiServerComponents): ApiServer {
  const options: Required<ApiServerOptions> = { ...defaultApiServerOptions, ...init }
  const { logger } = components
  const uploads = options.uploadDir === '' ? undefined : createUploadStore(options.uploadDir, options)
  const handle = createRequestDispatch(options, { ...components, uploads })
  let server: Server | undefined
  let port: number | undefined

  return {
    get url() {
      if (port === undefined) return undefined
      const host = options.host.includes(':') ? `[${options.host}]` : options.host
      return `http://${host}:${port}`
    },
    get port() {
      return port
    },

    async start() {
      if (server !== undefined) return
      checkBinding(options.host, options.token)
      await uploads?.start()
      const instance = createServer(
        { maxHeaderSize: options.maxHeaderBytes, requestTimeout: options.requestTimeoutMs },
        (request, response) => {
          void handle(request, response)
        },
      )
      instance.headersTimeout = options.headersTimeoutMs
      instance.keepAliveTimeout = options.keepAliveTimeoutMs
      await new Promise<void>((resolve, reject) => {
        instance.once('error', (cause: NodeJS.ErrnoException) => {
          reject(
            new ApiError('API_LISTEN_FAILED', `cannot listen on ${options.host}:${options.port}`, {
              cause,
              details:
                cause.code === 'EADDRINUSE'
                  ? 'the port is in use (another ocn daemon?); set api.port or --api-port'
                  : cause.message,
            }),
          )
        })
        instance.listen(options.port, options.host, () => resolve())
      })
      server = instance
      port = (instance.address() as AddressInfo).port
      logger.info({ url: this.url }, 'local API listening')
    },

    async stop() {
      const instance = server
      if (instance === undefined) return
      server = undefined
      port = undefined
      await uploads?.stop()
      await new Promise<void>((resolve) => {
        instance.close(() => resolve())
        instance.closeAllConnections()
      })
    },
  }
}
