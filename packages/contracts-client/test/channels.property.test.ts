// Random orders of voucher redemptions: whatever order the provider submits signed
// vouchers in, it is paid exactly the largest cumulative amount it redeemed, never more
// than the deposit, and close returns exactly the rest. Each run opens a fresh channel.
import { type ChannelsDomain, signVoucher, type VoucherSigner } from '@ocn/protocol'
import fc from 'fast-check'
import { type Address, parseEther } from 'viem'
import { signTypedData } from 'viem/actions'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  approveToken,
  ContractRevertError,
  closeByProvider,
  deployPaymentChannels,
  getChannel,
  getChannelsDomain,
  getTokenBalance,
  openChannel,
  redeemVoucher,
} from '../src/index.js'
import { type Protocol, setupProtocol } from './helpers.js'

let p: Protocol
let channels: Address
let token: Address
let domain: ChannelsDomain
const DEPOSIT = parseEther('10')

beforeAll(async () => {
  p = await setupProtocol()
  token = p.deployment.addresses.token
  ;({ paymentChannels: channels } = await deployPaymentChannels(p.admin, { token }))
  domain = await getChannelsDomain(p.admin, { paymentChannels: channels })
})

afterAll(async () => {
  await p?.chain.stop()
})

describe('PaymentChannels under random redemption orders', () => {
  it('pays the provider the largest redeemed amount and refunds the rest, to the wei', async () => {
    const signer: VoucherSigner = { signTypedData: (td) => signTypedData(p.requester, td) }
    await fc.assert(
      fc.asyncProperty(
        // cumulative amounts in wei, some over the deposit
        fc.array(fc.bigInt({ min: 1n, max: DEPOSIT + DEPOSIT / 4n }), { minLength: 1, maxLength: 6 }),
        async (amounts) => {
          const providerBefore = await getTokenBalance(p.admin, {
            token,
            account: p.provider.account.address,
          })
          const requesterBefore = await getTokenBalance(p.admin, {
            token,
            account: p.requester.account.address,
          })
          await approveToken(p.requester, { token, spender: channels, amount: DEPOSIT })
          const { channelId } = await openChannel(p.requester, {
            paymentChannels: channels,
            provider: p.provider.account.address,
            deposit: DEPOSIT,
            closeTimeout: 600,
          })
          let paid = 0n
          for (const amount of amounts) {
            const voucher = await signVoucher(signer, domain, { channelId, cumulativeAmount: amount })
            const expected =
              amount > DEPOSIT ? 'VoucherOverspent' : amount <= paid ? 'VoucherNotNewer' : undefined
            try {
              await redeemVoucher(p.provider, { paymentChannels: channels, ...voucher })
              expect(expected).toBeUndefined()
              paid = amount
            } catch (err) {
              if (!(err instanceof ContractRevertError)) throw err
              expect(err.errorName).toBe(expected)
            }
            expect((await getChannel(p.admin, { paymentChannels: channels, channelId }))?.paid).toBe(paid)
          }
          await closeByProvider(p.provider, {
            paymentChannels: channels,
            channelId,
            cumulativeAmount: paid,
            signature: '0x',
          })
          expect(await getTokenBalance(p.admin, { token, account: p.provider.account.address })).toBe(
            providerBefore + paid,
          )
          expect(await getTokenBalance(p.admin, { token, account: p.requester.account.address })).toBe(
            requesterBefore - paid,
          )
        },
      ),
      { numRuns: Number(process.env.OCN_PROPERTY_RUNS ?? 12) },
    )
  })
})
