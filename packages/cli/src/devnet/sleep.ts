import { sleep as abortableSleep } from '@ocn/node'
import { DevnetError } from './errors.js'

/** Waits `ms`; rejects with DEVNET_ABORTED as soon as the devnet is stopped. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return abortableSleep(ms, signal, () => new DevnetError('DEVNET_ABORTED', 'the devnet was stopped'))
}
