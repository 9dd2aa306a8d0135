import { DevnetError } from './errors.js'

/** Waits `ms`; rejects with DEVNET_ABORTED as soon as the devnet is stopped. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(new DevnetError('DEVNET_ABORTED', 'the devnet was stopped'))
      return
    }
    const onAbort = () => {
      clearTimeout(timer)
      reject(new DevnetError('DEVNET_ABORTED', 'the devnet was stopped'))
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}
