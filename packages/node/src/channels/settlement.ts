/**
 * Turning accepted vouchers into payment: one redeem transaction per channel when the
 * provider chooses, or at once when the requester starts closing the channel.
 */
import {
  closeByProvider,
  getChannel,
  type ProtocolReadClient,
  type ProtocolWalletClient,
  redeemVoucher,
  type WriteResult,
} from '@ocn/contracts-client'
import type { Address, Hex } from 'viem'
import type { Logger } from '../core/logger.js'
import { ChannelError, ChannelErrorCode } from './errors.js'
import type { VoucherAcceptance } from './voucher-acceptance.js'
import type { VoucherStore } from './voucher-store.js'

export interface RedeemOptions {
  /** also finalize the channel (closeByProvider), refunding the requester's rest at once */
  close?: boolean
  signal?: AbortSignal
}

export interface RedeemResult extends WriteResult {
  channelId: Hex
  /** the cumulative amount now redeemed */
  cumulativeAmount: bigint
  /** what this transaction paid */
  payout: bigint
}

export interface Settlement {
  redeem(channelId: Hex, options?: RedeemOptions): Promise<RedeemResult>
  /** redeems every channel with something unredeemed; failures are logged and skipped */
  redeemAll(options?: RedeemOptions): Promise<RedeemResult[]>
  /** Redeems every unredeemed channel whose requester started a close (stops early when `running` turns false). */
  redeemClosing(running: () => boolean): Promise<void>
}

export interface SettlementInit {
  wallet: ProtocolWalletClient
  reader: ProtocolReadClient
  paymentChannels: Address
  store: VoucherStore
  vouchers: VoucherAcceptance
  log: Logger
}

export function createSettlement(init: SettlementInit): Settlement {
  const { wallet, store, vouchers, log } = init

  async function redeemNow(channelId: Hex, options: RedeemOptions): Promise<RedeemResult> {
    options.signal?.throwIfAborted()
    await vouchers.written(channelId)
    const stored = await store.get(channelId)
    if (!stored || (stored.cumulativeAmount <= stored.redeemed && !options.close)) {
      throw new ChannelError(ChannelErrorCode.NOTHING_TO_REDEEM, `nothing unredeemed on channel ${channelId}`)
    }
    const params = {
      paymentChannels: init.paymentChannels,
      channelId,
      cumulativeAmount: stored.cumulativeAmount,
      signature: stored.signature,
    }
    let written: WriteResult
    try {
      written = options.close ? await closeByProvider(wallet, params) : await redeemVoucher(wallet, params)
    } catch (cause) {
      throw new ChannelError(ChannelErrorCode.CHAIN, `redeeming channel ${channelId} failed`, {
        details: (cause as { shortMessage?: string }).shortMessage,
        cause,
      })
    }
    await store.put({ ...stored, redeemed: stored.cumulativeAmount })
    vouchers.forgetChannel(channelId)
    log.info({ channelId, cumulativeAmount: stored.cumulativeAmount.toString() }, 'voucher redeemed')
    return {
      ...written,
      channelId,
      cumulativeAmount: stored.cumulativeAmount,
      payout: stored.cumulativeAmount - stored.redeemed,
    }
  }

  // one redeem per channel at a time (the close watch and a caller may race)
  const redeeming = new Map<Hex, Promise<unknown>>()
  function redeem(channelId: Hex, options: RedeemOptions = {}): Promise<RedeemResult> {
    const previous = redeeming.get(channelId) ?? Promise.resolve()
    const next = previous.catch(() => {}).then(() => redeemNow(channelId, options))
    redeeming.set(channelId, next)
    void next
      .catch(() => {})
      .finally(() => {
        if (redeeming.get(channelId) === next) redeeming.delete(channelId)
      })
    return next
  }

  return {
    redeem,
    async redeemAll(options = {}) {
      const results: RedeemResult[] = []
      for (const stored of await store.list()) {
        if (stored.cumulativeAmount <= stored.redeemed) continue
        try {
          results.push(await redeem(stored.channelId, options))
        } catch (error) {
          log.warn({ err: error, channelId: stored.channelId }, 'redeem failed')
        }
      }
      return results
    },
    async redeemClosing(running) {
      for (const stored of await store.list()) {
        if (!running()) return
        if (stored.cumulativeAmount <= stored.redeemed) continue
        try {
          const state = await getChannel(init.reader, {
            paymentChannels: init.paymentChannels,
            channelId: stored.channelId,
          })
          if (state && !state.finalized && state.closesAt !== 0) {
            log.info({ channelId: stored.channelId, closesAt: state.closesAt }, 'channel closing: redeeming')
            await redeem(stored.channelId)
          }
        } catch (error) {
          log.warn({ err: error, channelId: stored.channelId }, 'close watch: redeem failed')
        }
      }
    },
  }
}
