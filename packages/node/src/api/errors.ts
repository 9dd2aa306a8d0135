import { NodeError } from '../core/errors.js'

/** Codes in API error bodies: `{ "error": { "code", "message" } }`. */
export type ApiErrorCode =
  | 'API_BAD_REQUEST'
  | 'API_NOT_FOUND'
  | 'API_METHOD_NOT_ALLOWED'
  | 'API_PAYLOAD_TOO_LARGE'
  | 'API_URL_TOO_LONG'
  | 'API_FORBIDDEN_HOST'
  | 'API_SERVICE_UNAVAILABLE'
  | 'API_TIMEOUT'
  | 'API_INTERNAL'
  | 'API_LISTEN_FAILED'
  | 'API_UNREACHABLE'
  | 'API_BAD_RESPONSE'
  | 'API_UNSUPPORTED_MEDIA_TYPE'
  | 'API_JOB_REJECTED'
  | 'API_REFUSED'
  | 'API_UNAUTHORIZED'
  | 'API_CROSS_ORIGIN'
  | 'API_TOKEN_REQUIRED'

export const apiErrorStatus: Record<ApiErrorCode, number> = {
  API_BAD_REQUEST: 400,
  API_UNAUTHORIZED: 401,
  API_CROSS_ORIGIN: 403,
  API_TOKEN_REQUIRED: 500,
  API_FORBIDDEN_HOST: 403,
  API_NOT_FOUND: 404,
  API_METHOD_NOT_ALLOWED: 405,
  API_PAYLOAD_TOO_LARGE: 413,
  API_URL_TOO_LONG: 414,
  API_UNSUPPORTED_MEDIA_TYPE: 415,
  API_JOB_REJECTED: 422,
  API_REFUSED: 422,
  API_INTERNAL: 500,
  API_SERVICE_UNAVAILABLE: 503,
  API_TIMEOUT: 504,
  API_LISTEN_FAILED: 500,
  API_UNREACHABLE: 502,
  API_BAD_RESPONSE: 502,
}

export class ApiError extends NodeError<ApiErrorCode> {
  override name = 'ApiError'
  get status(): number {
    return apiErrorStatus[this.code]
  }
}
