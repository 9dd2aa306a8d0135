import { type ChannelsDomain, signVoucher, type VoucherSigner, voucherDigest } from '@ocn/protocol'
import { type Address, type Hex, parseEther } from 'viem'
import { readContract, signTypedData } from 'viem/actions'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  approveToken,
  closeByProvider,
  deployPaymentChannels,
  getChannel,
  getChannelsDomain,
  getTokenBalance,
  openChannel,
  paymentChannelsAbi,
  redeemVoucher,
  startChannelClose,
  topUpChannel,
  withdrawChannel,
} from '../src/index.js'
import { advance, expectRevert, type Protocol, setupProtocol, type Wallet } from './helpers.js'

const e = parseEther
let p: Protocol
let channels: Address
let token: Address
let domain: ChannelsDomain

const signerOf = (wallet: Wallet): VoucherSigner => ({ signTypedData: (td) => signTypedData(wallet, td) })
const balanceOf = (account: Address) => getTokenBalance(p.admin, { token, account })

async function open(deposit: bigint, closeTimeout = 600): Promise<Hex> {
  await approveToken(p.requester, { token, spender: channels, amount: deposit })
  const { channelId } = await openChannel(p.requester, {
    paymentChannels: channels,
    provider: p.provider.account.address,
    deposit,
    closeTimeout,
  })
  return channelId
}

const voucher = (channelId: Hex, cumulativeAmount: bigint, signer: Wallet = p.requester) =>
  signVoucher(signerOf(signer), domain, { channelId, cumulativeAmount })

beforeAll(async () => {
  p = await setupProtocol()
  token = p.deployment.addresses.token
  ;({ paymentChannels: channels } = await deployPaymentChannels(p.admin, { token }))
  domain = await getChannelsDomain(p.admin, { paymentChannels: channels })
})

afterAll(async () => {
  await p?.chain.stop()
})

describe('PaymentChannels', () => {
  it('uses the same voucher digest as @ocn/protocol', async () => {
    const channelId = `0x${'ab'.repeat(32)}` as Hex
    const onchain = await readContract(p.admin, {
      address: channels,
      abi: paymentChannelsAbi,
      functionName: 'voucherDigest',
      args: [channelId, 12345n],
    })
    expect(onchain).toBe(voucherDigest(domain, { channelId, cumulativeAmount: 12345n }))
    expect(domain.chainId).toBe(p.chain.chain.id)
  })

  it('redeems only the increase of a cumulative voucher and rejects replays and older vouchers', async () => {
    const channelId = await open(e('10'))
    const providerBefore = await balanceOf(p.provider.account.address)
    const v3 = await voucher(channelId, e('3'))
    await redeemVoucher(p.provider, { paymentChannels: channels, ...v3 })
    expect(await balanceOf(p.provider.account.address)).toBe(providerBefore + e('3'))

    await expectRevert(redeemVoucher(p.provider, { paymentChannels: channels, ...v3 }), 'VoucherNotNewer')
    const v7 = await voucher(channelId, e('7'))
    const v5 = await voucher(channelId, e('5'))
    await redeemVoucher(p.provider, { paymentChannels: channels, ...v7 })
    await expectRevert(redeemVoucher(p.provider, { paymentChannels: channels, ...v5 }), 'VoucherNotNewer')
    expect(await balanceOf(p.provider.account.address)).toBe(providerBefore + e('7'))
    expect((await getChannel(p.admin, { paymentChannels: channels, channelId }))?.paid).toBe(e('7'))
  })

  it('rejects an over-spent voucher, a forged signature, a voucher for another channel and a non-provider', async () => {
    const channelId = await open(e('5'))
    const other = await open(e('5'))
    const over = await voucher(channelId, e('5') + 1n)
    const err = await expectRevert(
      redeemVoucher(p.provider, { paymentChannels: channels, ...over }),
      'VoucherOverspent',
    )
    expect(err.args).toEqual([channelId, e('5') + 1n, e('5')])

    const forged = await voucher(channelId, e('1'), p.other)
    await expectRevert(
      redeemVoucher(p.provider, { paymentChannels: channels, ...forged }),
      'InvalidVoucherSignature',
    )
    const providerSigned = await voucher(channelId, e('1'), p.provider)
    await expectRevert(
      redeemVoucher(p.provider, { paymentChannels: channels, ...providerSigned }),
      'InvalidVoucherSignature',
    )
    const forOther = await voucher(other, e('1'))
    await expectRevert(
      redeemVoucher(p.provider, {
        paymentChannels: channels,
        channelId,
        signature: forOther.signature,
        cumulativeAmount: e('1'),
      }),
      'InvalidVoucherSignature',
    )
    const good = await voucher(channelId, e('1'))
    await expectRevert(redeemVoucher(p.other, { paymentChannels: channels, ...good }), 'NotProvider')
  })

  it('lets the requester recover the rest after the timeout, with the provider redeeming during it', async () => {
    const deposit = e('20')
    const requesterBefore = await balanceOf(p.requester.account.address)
    const providerBefore = await balanceOf(p.provider.account.address)
    const channelId = await open(deposit, 600)
    await approveToken(p.requester, { token, spender: channels, amount: e('5') })
    await topUpChannel(p.requester, { paymentChannels: channels, channelId, amount: e('5') })

    await expectRevert(
      withdrawChannel(p.requester, { paymentChannels: channels, channelId }),
      'CloseNotStarted',
    )
    await startChannelClose(p.requester, { paymentChannels: channels, channelId })
    await expectRevert(
      withdrawChannel(p.requester, { paymentChannels: channels, channelId }),
      'CloseTimeoutPending',
    )
    await expectRevert(
      topUpChannel(p.requester, { paymentChannels: channels, channelId, amount: 1n }),
      'ChannelClosing',
    )
    // the provider may still redeem while the timeout runs
    const v = await voucher(channelId, e('8'))
    await redeemVoucher(p.provider, { paymentChannels: channels, ...v })
    await advance(p, 601)
    await withdrawChannel(p.requester, { paymentChannels: channels, channelId })

    expect(await balanceOf(p.provider.account.address)).toBe(providerBefore + e('8'))
    expect(await balanceOf(p.requester.account.address)).toBe(requesterBefore - e('8'))
    const state = await getChannel(p.admin, { paymentChannels: channels, channelId })
    expect(state?.finalized).toBe(true)
    // nothing moves after finalization
    const later = await voucher(channelId, e('9'))
    await expectRevert(
      redeemVoucher(p.provider, { paymentChannels: channels, ...later }),
      'ChannelFinalizedAlready',
    )
    await expectRevert(
      withdrawChannel(p.requester, { paymentChannels: channels, channelId }),
      'ChannelFinalizedAlready',
    )
  })

  it('closes cooperatively by the provider, refunding the rest at once', async () => {
    const requesterBefore = await balanceOf(p.requester.account.address)
    const heldBefore = await balanceOf(channels)
    const channelId = await open(e('4'))
    const v = await voucher(channelId, e('1.5'))
    await closeByProvider(p.provider, { paymentChannels: channels, ...v })
    expect(await balanceOf(p.requester.account.address)).toBe(requesterBefore - e('1.5'))
    // the contract holds exactly what it held before this channel
    expect(await balanceOf(channels)).toBe(heldBefore)
  })

  it('rejects bad opens', async () => {
    await approveToken(p.requester, { token, spender: channels, amount: e('1') })
    await expectRevert(
      openChannel(p.requester, {
        paymentChannels: channels,
        provider: p.provider.account.address,
        deposit: 0n,
        closeTimeout: 600,
      }),
      'ZeroAmount',
    )
    await expectRevert(
      openChannel(p.requester, {
        paymentChannels: channels,
        provider: p.provider.account.address,
        deposit: 1n,
        closeTimeout: 1,
      }),
      'InvalidCloseTimeout',
    )
    await expectRevert(
      openChannel(p.requester, {
        paymentChannels: channels,
        provider: p.requester.account.address,
        deposit: 1n,
        closeTimeout: 600,
      }),
      'InvalidProvider',
    )
    expect(
      await getChannel(p.admin, { paymentChannels: channels, channelId: `0x${'00'.repeat(32)}` }),
    ).toBeUndefined()
  })
})
