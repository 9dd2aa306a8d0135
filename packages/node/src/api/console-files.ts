/**
 * The web console's static files (built by @ocn/console), served from the API's own
 * address so the page and the API share one origin. Only names the build writes are
 * served: `/`, `/index.html` and flat files under `/assets/`; nothing outside the folder.
 */
import { readFile, stat } from 'node:fs/promises'
import { extname, join } from 'node:path'
import { ApiError } from './errors.js'
import type { RouteResult } from './http.js'

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json; charset=utf-8',
}

const ASSET = /^\/assets\/[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$/
/** A built console is a few hundred KiB; a file over this is not one of ours. */
const MAX_FILE_BYTES = 4 * 1024 * 1024

/** The console file a GET path names, or undefined when the path is an API route. */
export function consoleFilePath(pathname: string): string | undefined {
  if (pathname === '/' || pathname === '/index.html') return 'index.html'
  if (ASSET.test(pathname) && !pathname.includes('..')) return pathname.slice(1)
  return undefined
}

export async function readConsoleFile(consoleDir: string, relative: string): Promise<RouteResult> {
  const type = CONTENT_TYPES[extname(relative)]
  if (consoleDir === '' || type === undefined)
    throw new ApiError(
      'API_NOT_FOUND',
      consoleDir === '' ? 'this node serves no console (build @ocn/console)' : `no console file ${relative}`,
    )
  const path = join(consoleDir, relative)
  try {
    const info = await stat(path)
    if (!info.isFile() || info.size > MAX_FILE_BYTES) throw new Error('not a console file')
    return { kind: 'file', contentType: type, body: await readFile(path) }
  } catch {
    throw new ApiError('API_NOT_FOUND', `no console file ${relative}`)
  }
}
