export { ApiError, type ApiErrorCode, apiErrorStatus } from './errors.js'
export type * from './interface.js'
export * from './options.js'
export { type ApiServer, type ApiServerComponents, createApiServer } from './server.js'
