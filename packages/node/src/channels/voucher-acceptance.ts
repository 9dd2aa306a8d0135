/**
 * Whether a voucher pays for one more request: newer than the last accepted one by at least
 * the price, within the channel's deposit, on an open channel to this provider, and signed
 * by the channel's requester. An accepted voucher is persisted before the request runs.
 */
import { type ChannelState, getChannel, type ProtocolReadClient } from '@ocn/contracts-client'
import { type ChannelsDomain, ProtocolError, type SignedVoucher, verifyVoucher } from '@ocn/protocol'
import { type Address, formatEther, type Hex, isAddressEqual } from 'viem'
import { getBlock } from 'viem/actions'
import type { Logger } from '../core/logger.js'
import { ChannelErrorCode } from './errors.js'
import type { ChannelMetrics } from './metrics.js'
import type { ChannelServerOptions } from './options.js'
import type { StoredVoucher, VoucherStore } from './voucher-store.js'

/** Why a voucher was refused; it goes back to the requester as is. */
export interface VoucherRejection {
  ok: false
  code: ChannelErrorCode
  message: string
}

export function rejection(code: ChannelErrorCode, message: string): VoucherRejection {
  return { ok: false, code, message }
}

export interface VoucherAcceptance {
  /** The voucher's cumulative amount once accepted and persisted, or why it was refused. */
  accept(voucher: SignedVoucher, price: bigint): Promise<VoucherRejection | bigint>
  /** Settles once the vouchers of a channel accepted so far are persisted. */
  written(channelId: Hex): Promise<void>
  /** Every pending write, for a clean stop. */
  allWritten(): Promise<void>
  /** Drops the cached channel state (after a redeem changed it on-chain). */
  forgetChannel(channelId: Hex): void
}

export interface VoucherAcceptanceInit {
  reader: ProtocolReadClient
  paymentChannels: Address
  domain: ChannelsDomain
  provider: Address
  store: VoucherStore
  options: Pick<ChannelServerOptions, 'channelCacheMs' | 'closeSafetyMarginSeconds'>
  metrics: ChannelMetrics
  log: Logger
}

interface CachedChannel {
  state: ChannelState
  readAt: number
}

/** The amount's refusals: a replay, too little for the price, or more than the deposit. */
function checkAmount(
  amount: bigint,
  latest: bigint,
  price: bigint,
  deposit: bigint,
): VoucherRejection | undefined {
  if (amount <= latest) {
    return rejection(
      ChannelErrorCode.VOUCHER_NOT_NEWER,
      `voucher for ${amount} is not above the accepted ${latest}`,
    )
  }
  if (amount - latest < price) {
    return rejection(
      ChannelErrorCode.VOUCHER_UNDERPAID,
      `voucher adds ${amount - latest}, the price is ${price}`,
    )
  }
  if (amount > deposit) {
    return rejection(
      ChannelErrorCode.VOUCHER_OVERSPENT,
      `voucher for ${amount} exceeds the deposit ${deposit}`,
    )
  }
  return undefined
}

/** Channel state read from the chain, reused for a while. */
function createChannelCache(reader: ProtocolReadClient, paymentChannels: Address, cacheMs: number) {
  const channels = new Map<Hex, CachedChannel>()
  return {
    async get(channelId: Hex, needDeposit: bigint): Promise<ChannelState | undefined> {
      const cached = channels.get(channelId)
      // reread when stale, or when a voucher exceeds the deposit we know (maybe a top-up)
      if (cached && Date.now() - cached.readAt < cacheMs && needDeposit <= cached.state.deposit) {
        return cached.state
      }
      const state = await getChannel(reader, { paymentChannels, channelId })
      if (state) channels.set(channelId, { state, readAt: Date.now() })
      return state
    },
    forget(channelId: Hex): void {
      channels.delete(channelId)
    },
  }
}

/**
 * The latest accepted cumulative amount per channel, the authority for monotonicity: read
 * from the store once, then kept in memory, and written back in acceptance order.
 */
function createAcceptedLedger(store: VoucherStore) {
  const accepted = new Map<Hex, bigint>()
  const loading = new Map<Hex, Promise<bigint>>()
  const writes = new Map<Hex, Promise<void>>()
  return {
    latest(channelId: Hex): Promise<bigint> {
      const known = accepted.get(channelId)
      if (known !== undefined) return Promise.resolve(known)
      let pending = loading.get(channelId)
      if (!pending) {
        pending = store.get(channelId).then((v) => {
          const value = accepted.get(channelId) ?? v?.cumulativeAmount ?? 0n
          accepted.set(channelId, value)
          loading.delete(channelId)
          return value
        })
        loading.set(channelId, pending)
      }
      return pending
    },
    /** What is accepted now, without waiting (another session may have moved on). */
    current(channelId: Hex, fallback: bigint): bigint {
      return accepted.get(channelId) ?? fallback
    },
    /** Records the voucher and persists it in call order per channel, keeping what was redeemed. */
    record(voucher: StoredVoucher): Promise<void> {
      accepted.set(voucher.channelId, voucher.cumulativeAmount)
      const previous = writes.get(voucher.channelId) ?? Promise.resolve()
      const next = previous.then(async () => {
        const stored = await store.get(voucher.channelId)
        if (stored && stored.cumulativeAmount >= voucher.cumulativeAmount) return
        await store.put({ ...voucher, redeemed: stored?.redeemed ?? 0n })
      })
      writes.set(
        voucher.channelId,
        next.catch(() => {}),
      )
      return next
    },
    async written(channelId: Hex): Promise<void> {
      await writes.get(channelId)
    },
    async allWritten(): Promise<void> {
      await Promise.all([...writes.values()])
    },
  }
}

export function createVoucherAcceptance(init: VoucherAcceptanceInit): VoucherAcceptance {
  const { reader, options, provider, log } = init
  const channels = createChannelCache(reader, init.paymentChannels, options.channelCacheMs)
  const ledger = createAcceptedLedger(init.store)

  /** The channel's own refusals: someone else's, finalized, or closing too soon to redeem. */
  async function checkChannel(state: ChannelState): Promise<VoucherRejection | undefined> {
    if (!isAddressEqual(state.provider, provider)) {
      return rejection(ChannelErrorCode.WRONG_PROVIDER, `the channel pays ${state.provider}, not ${provider}`)
    }
    if (state.finalized) return rejection(ChannelErrorCode.CHANNEL_CLOSING, 'the channel is finalized')
    if (state.closesAt !== 0) {
      // chain time, not this host's clock: the contract compares against block.timestamp
      const now = Number((await getBlock(reader, { blockTag: 'latest' })).timestamp)
      if (state.closesAt - now < options.closeSafetyMarginSeconds) {
        return rejection(
          ChannelErrorCode.CHANNEL_CLOSING,
          `the channel's close timeout ends at ${state.closesAt}`,
        )
      }
    }
    return undefined
  }

  async function accept(voucher: SignedVoucher, price: bigint): Promise<VoucherRejection | bigint> {
    const channelId = voucher.channelId
    let state: ChannelState | undefined
    try {
      state = await channels.get(channelId, voucher.cumulativeAmount)
    } catch (cause) {
      log.warn({ err: cause }, 'cannot read channel state')
      return rejection(ChannelErrorCode.CHAIN, 'the provider cannot read the channel from the chain now')
    }
    if (!state) return rejection(ChannelErrorCode.UNKNOWN_CHANNEL, `no channel ${channelId}`)
    const refused = await checkChannel(state)
    if (refused !== undefined) return refused
    const latest = await ledger.latest(channelId)
    const badAmount = checkAmount(voucher.cumulativeAmount, latest, price, state.deposit)
    if (badAmount !== undefined) return badAmount
    try {
      await verifyVoucher(init.domain, voucher, state.requester)
    } catch (error) {
      if (error instanceof ProtocolError)
        return rejection(ChannelErrorCode.INVALID_SIGNATURE, error.shortMessage)
      throw error
    }
    // Checked again after the awaits: another session on the same channel may have moved on.
    const now = ledger.current(channelId, latest)
    if (voucher.cumulativeAmount - now < price) {
      return rejection(ChannelErrorCode.VOUCHER_NOT_NEWER, 'a newer voucher was accepted meanwhile')
    }
    await ledger.record({ ...voucher, redeemed: 0n })
    init.metrics.earned.inc(Number(formatEther(voucher.cumulativeAmount - now)))
    return voucher.cumulativeAmount
  }

  return {
    accept,
    written: ledger.written,
    allWritten: ledger.allWritten,
    forgetChannel: channels.forget,
  }
}
