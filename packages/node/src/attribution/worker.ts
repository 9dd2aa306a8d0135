/**
 * Entry of the attribution child process (compiled to dist/attribution/worker.js): receives
 * one AttributionRequest over IPC, computes, replies, exits. A process rather than a thread so
 * a timeout or abort can stop a long gradient loop at once by killing it.
 */
import { computeAttributionResult } from './compute.js'
import { serializeAttributionError } from './errors.js'

process.once('message', (request) => {
  computeAttributionResult(request as Parameters<typeof computeAttributionResult>[0]).then(
    (value) => process.send?.({ ok: true, value }, () => process.disconnect()),
    (error: unknown) =>
      process.send?.({ ok: false, error: serializeAttributionError(error) }, () => process.disconnect()),
  )
})
