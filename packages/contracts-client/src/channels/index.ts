// Payment channels: one viem-style action per file, as in ../actions.

export { paymentChannelsAbi, paymentChannelsBytecode } from '../generated/abis.js'
export * from './closeByProvider.js'
export * from './deployPaymentChannels.js'
export * from './getChannel.js'
export * from './openChannel.js'
export * from './redeemVoucher.js'
export * from './startChannelClose.js'
export * from './topUpChannel.js'
export * from './withdrawChannel.js'
