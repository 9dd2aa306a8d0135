/**
 * The provider's copy of the latest voucher of each channel: the only thing it needs to be
 * paid, so it is written to disk before the response leaves (a restart between serving and
 * redeeming must not lose the money).
 */
import type { SignedVoucher } from '@ocn/protocol'
import { Level } from 'level'
import type { Hex } from 'viem'

export interface StoredVoucher extends SignedVoucher {
  /** amount the provider has redeemed on-chain from this channel so far */
  redeemed: bigint
}

export interface VoucherStore {
  start(): Promise<void>
  stop(): Promise<void>
  get(channelId: Hex): Promise<StoredVoucher | undefined>
  put(voucher: StoredVoucher): Promise<void>
  list(): Promise<StoredVoucher[]>
}

interface StoredJson {
  channelId: Hex
  cumulativeAmount: string
  signature: Hex
  redeemed: string
}

const toJson = (v: StoredVoucher): StoredJson => ({
  channelId: v.channelId,
  cumulativeAmount: v.cumulativeAmount.toString(),
  signature: v.signature,
  redeemed: v.redeemed.toString(),
})
const fromJson = (j: StoredJson): StoredVoucher => ({
  channelId: j.channelId,
  cumulativeAmount: BigInt(j.cumulativeAmount),
  signature: j.signature,
  redeemed: BigInt(j.redeemed),
})

/** A LevelDB store in `directory`; `sync` writes reach the disk before put resolves. */
export function createLevelVoucherStore(init: { directory: string }): VoucherStore {
  const db = new Level<string, StoredJson>(init.directory, { valueEncoding: 'json' })
  return {
    async start() {
      await db.open()
    },
    async stop() {
      await db.close()
    },
    async get(channelId) {
      const value = await db.get(channelId.toLowerCase())
      return value === undefined ? undefined : fromJson(value)
    },
    async put(voucher) {
      await db.put(voucher.channelId.toLowerCase(), toJson(voucher), { sync: true } as never)
    },
    async list() {
      const out: StoredVoucher[] = []
      for await (const value of db.values()) out.push(fromJson(value))
      return out
    },
  }
}

/** In memory: for tests and for a provider that accepts losing unredeemed vouchers on restart. */
export function createMemoryVoucherStore(): VoucherStore {
  const vouchers = new Map<string, StoredVoucher>()
  return {
    async start() {},
    async stop() {},
    async get(channelId) {
      return vouchers.get(channelId.toLowerCase())
    },
    async put(voucher) {
      vouchers.set(voucher.channelId.toLowerCase(), { ...voucher })
    },
    async list() {
      return [...vouchers.values()].map((v) => ({ ...v }))
    },
  }
}
