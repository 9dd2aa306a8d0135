export {
  type ChannelClient,
  type ChannelClientComponents,
  type ChannelClientInit,
  createChannelClient,
  type InferenceSession,
  type OpenSessionParameters,
} from './client.js'
export * from './errors.js'
export * from './metrics.js'
export * from './options.js'
export {
  type ChannelServer,
  type ChannelServerComponents,
  type ChannelServerInit,
  createChannelServer,
  type RedeemOptions,
  type RedeemResult,
  type ServedModel,
} from './server.js'
export * from './voucher-store.js'
