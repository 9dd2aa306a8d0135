/**
 * The devnet's way to each node's local API: @ocn/client, the one client the CLI's commands,
 * the console and applications use too. A devnet node's API URL carries the node's token as
 * its user part (devnetApiUrl); here it becomes the client's token, sent on every call, reads
 * included (a node served off loopback answers no read without it), and never on the wire as
 * userinfo. Failures become the CLI's ApiErrors, worded as `ocn job` words them, so a refused
 * submission reads the same in the devnet's summary as on the command line.
 */
import { createOcnClient, type OcnClient, type SubmitJobInput } from '@ocn/client'
import { type ApiCallKind, cliApiError } from '../node-api.js'
import { DevnetError } from './errors.js'
import type { WorkloadJob } from './workload-job.js'

/** Time for a read's answer unless a call says otherwise (the devnet's polls allow 5 s). */
const READ_TIMEOUT_MS = 5_000
/** Largest JSON answer read: a job record with its results stays far below this. */
const MAX_RESPONSE_BYTES = 4 * 1024 * 1024

export interface DevnetNodeApi {
  /** The node's API origin, without the token. */
  readonly url: string
  readonly client: OcnClient
  /** Runs one client call, turning its failure into the CLI's ApiError. */
  call<T>(kind: ApiCallKind, run: (client: OcnClient) => Promise<T>): Promise<T>
}

/**
 * A client of the node whose API URL (with its token, if any, as the user part) is `api`;
 * `fetchImpl` stands in for the global fetch in unit tests.
 */
export function devnetNodeApi(api: string, fetchImpl?: typeof fetch): DevnetNodeApi {
  const url = new URL(api)
  const token = url.username === '' ? undefined : decodeURIComponent(url.username)
  const client = createOcnClient({
    url: url.origin,
    timeoutMs: READ_TIMEOUT_MS,
    maxResponseBytes: MAX_RESPONSE_BYTES,
    ...(token === undefined ? {} : { token }),
    ...(fetchImpl === undefined ? {} : { fetch: fetchImpl }),
  })
  return {
    url: client.url,
    client,
    async call(kind, run) {
      try {
        return await run(client)
      } catch (error) {
        throw cliApiError(error, client.url, kind)
      }
    },
  }
}

/** A workload job as the requester's API takes it (the members of SubmitJobInput by kind). */
export function submissionOf(job: WorkloadJob): SubmitJobInput {
  const common = {
    modelPath: job.modelPath,
    inputsPath: job.inputsPath,
    verification: job.verification ?? 'replay',
    ...(job.microBatchSize === undefined ? {} : { microBatchSize: job.microBatchSize }),
    ...(job.inputAxes === undefined ? {} : { inputAxes: job.inputAxes }),
    ...(job.state === undefined ? {} : { state: job.state }),
    ...(job.generate === undefined ? {} : { generate: job.generate }),
  }
  if (job.kind === 'inference') return { kind: 'inference', ...common }
  if (job.trainingSpecPath === undefined)
    throw new DevnetError('DEVNET_OPTIONS_INVALID', `the training job ${job.name} names no training spec`, {
      details: 'a training job of the workload needs trainingSpecPath',
    })
  return {
    kind: 'training',
    ...common,
    trainingSpecPath: job.trainingSpecPath,
    ...(job.datanetManifestPath === undefined ? {} : { datanetManifestPath: job.datanetManifestPath }),
  }
}
