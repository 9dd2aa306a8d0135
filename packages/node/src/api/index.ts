export { isLoopbackHost } from './access.js'
export {
  apiGet,
  apiPost,
  apiUrlWithToken,
  type GetApiJsonOptions,
  getApiJson,
  type PostApiJsonOptions,
  postApiJson,
} from './client.js'
export { readDevnetBoard } from './devnet-board.js'
export { ApiError, type ApiErrorCode, apiErrorStatus } from './errors.js'
export { formatEvent } from './events.js'
export type * from './interface.js'
export * from './options.js'
export { type ApiJson, type ApiRoute, type ApiRouteName, apiRoutes, matchApiRoute } from './routes.js'
export { type ApiServer, type ApiServerComponents, createApiServer } from './server.js'
export type * from './services.js'
export { API_TOKEN_FILE, ensureApiToken, readApiToken } from './token.js'
