/**
 * Crash-safe on-chain actions: the intent to act is written to the job's record before the
 * transaction is sent, its hash as soon as it is sent, and the transition that records the
 * outcome drops it (state/job-updates.ts). A node killed anywhere in between restarts with
 * the intent on its record and asks the chain (intentOutcome) before it acts again, so it
 * neither forgets an action that landed nor sends one twice while the first is pending.
 */
import type { Hash } from 'viem'
import { getTransaction, getTransactionReceipt, waitForTransactionReceipt } from 'viem/actions'
import type { ChainAction, ChainIntent, JobPatch } from '../state/records.js'
import type { StateStore } from '../state/store.js'
import type { OcnChainClient } from './client.js'

export interface IntentDeps {
  state: Pick<StateStore, 'updateJob'>
  chain: { serialize<T>(send: () => Promise<T>): Promise<T> }
}

export interface SendWithIntentParameters<T> {
  jobId: string
  action: ChainAction
  /** written in the same atomic write as the intent (e.g. the leaves a commit commits to) */
  patch?: JobPatch
  /** sends the transaction; calls `onSent` with its hash before waiting for the receipt */
  send(onSent: (hash: Hash) => Promise<void>): Promise<T>
  /** called after the hash is recorded (devnet fault injection: a crash right there) */
  afterSent?(hash: Hash): void | Promise<void>
}

/**
 * Records the intent (with `patch`), sends the transaction in the account's queue and records
 * its hash once sent. The intent stays on the record when the send fails: the transition that
 * records the outcome, or the next reconcile, clears it.
 */
export async function sendWithIntent<T>(
  deps: IntentDeps,
  parameters: SendWithIntentParameters<T>,
): Promise<T> {
  const { jobId, patch, ...rest } = parameters
  return sendWithIntents(deps, { ...rest, jobs: [{ jobId, ...(patch === undefined ? {} : { patch }) }] })
}

export interface SendWithIntentsParameters<T> extends Omit<SendWithIntentParameters<T>, 'jobId' | 'patch'> {
  /** the jobs one transaction acts on (a batch), each with what its intent's write carries */
  jobs: readonly { jobId: string; patch?: JobPatch }[]
}

/**
 * `sendWithIntent` for one transaction that acts on several jobs (commitBatch,
 * finalizeBatch): every job's record gets the intent before the send and the hash once sent,
 * so each restarts as a single job's intent would. A crash between two of these writes leaves
 * some records without the hash (`unsent`): their reconcile asks the chain before it acts.
 */
export async function sendWithIntents<T>(
  deps: IntentDeps,
  parameters: SendWithIntentsParameters<T>,
): Promise<T> {
  const { state, chain } = deps
  const { jobs, action } = parameters
  const intent: ChainIntent = { action, recordedAt: Date.now() }
  for (const { jobId, patch } of jobs) await state.updateJob(jobId, { ...patch, intent })
  return chain.serialize(() =>
    parameters.send(async (hash) => {
      for (const { jobId } of jobs) await state.updateJob(jobId, { intent: { ...intent, txHash: hash } })
      await parameters.afterSent?.(hash)
    }),
  )
}

/**
 * Where a recorded intent's transaction stands: `unsent` (no hash was recorded: it may never
 * have left), `pending` (the node knows it, no receipt yet), `mined` or `reverted`, or
 * `dropped` (the node does not know the hash: it will never land).
 */
export type IntentOutcome = 'unsent' | 'pending' | 'mined' | 'reverted' | 'dropped'

export async function intentOutcome(client: OcnChainClient, intent: ChainIntent): Promise<IntentOutcome> {
  if (intent.txHash === undefined) return 'unsent'
  const hash = intent.txHash as Hash
  const receipt = await getTransactionReceipt(client, { hash }).catch(() => undefined)
  if (receipt !== undefined) return receipt.status === 'success' ? 'mined' : 'reverted'
  const known = await getTransaction(client, { hash }).then(
    () => true,
    () => false,
  )
  return known ? 'pending' : 'dropped'
}

/** Waits up to `timeoutMs` for a pending intent's transaction; resolves whatever happens. */
export async function awaitIntent(
  client: OcnChainClient,
  intent: ChainIntent,
  timeoutMs: number,
): Promise<void> {
  if (intent.txHash === undefined) return
  await waitForTransactionReceipt(client, { hash: intent.txHash as Hash, timeout: timeoutMs }).catch(
    () => undefined,
  )
}
