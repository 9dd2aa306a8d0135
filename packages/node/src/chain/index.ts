export { ChainServiceError, type ChainServiceErrorCode } from './errors.js'
export {
  awaitIntent,
  type IntentDeps,
  type IntentOutcome,
  intentOutcome,
  type SendWithIntentParameters,
  sendWithIntent,
} from './intents.js'
export {
  createModelStatusCache,
  defaultModelStatusCacheOptions,
  type ModelStatusCache,
  type ModelStatusCacheOptions,
  type ModelStatusReadOptions,
} from './models.js'
export { type ChainServiceOptions, defaultChainServiceOptions } from './options.js'
export { readRequesterFunds } from './reads.js'
export {
  type ChainServiceComponents,
  type ChainServiceInit,
  createChainService,
  loadDeploymentFile,
  type OcnChainClient,
  type OcnChainService,
  type ProtocolEventListener,
} from './service.js'
