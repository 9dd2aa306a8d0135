/**
 * `ocn job results` as a child process against a real API server whose result source is a
 * stand-in behind the ApiProviders interface: the download is hash-checked and written
 * through a temporary name, so a bad file never appears under its real name.
 */
import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { type ApiServer, createApiServer, createSilentLogger } from '@ocn/node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const bin = fileURLToPath(new URL('../../dist/bin/ocn.js', import.meta.url))
const good = `0x${'aa'.repeat(32)}`
const tampered = `0x${'bb'.repeat(32)}`
const pending = `0x${'cc'.repeat(32)}`
const content = new TextEncoder().encode('the outputs of a job')
const hash = `0x${createHash('sha256').update(content).digest('hex')}`
let dir: string
let server: ApiServer

function ocn(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [bin, ...args],
      { env: { PATH: process.env.PATH ?? '', HOME: dir }, cwd: dir, timeout: 60_000 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1
        resolve({ code, stdout, stderr })
      },
    )
  })
}

beforeAll(async () => {
  if (!existsSync(bin)) throw new Error('build @ocn/cli first: npm run build (at the repository root)')
  dir = await mkdtemp(join(tmpdir(), 'ocn-job-results-'))
  server = createApiServer(
    { port: 0 },
    {
      logger: createSilentLogger(),
      providers: {
        status: async () => ({ version: 't', roles: [], startedAt: 1, uptimeMs: 1, services: {}, jobs: {} }),
        jobs: async () => [],
        job: async () => undefined,
        bids: async () => [],
        async jobResults(id) {
          if (id === good || id === tampered)
            return {
              jobId: id,
              state: 'finalized',
              files: [{ name: 'outputs.safetensors', bytes: content.length, hash }],
            }
          if (id === pending) return { jobId: id, state: 'committed', files: [] }
          return undefined
        },
        async openJobResult(id) {
          const bytes = id === tampered ? new TextEncoder().encode('something else') : content
          return (async function* () {
            yield bytes
          })()
        },
      },
    },
  )
  await server.start()
})

afterAll(async () => {
  await server?.stop()
  if (dir !== undefined) await rm(dir, { recursive: true, force: true })
})

describe('ocn job results', () => {
  it('downloads and hash-checks the result files', async () => {
    const result = await ocn(['job', 'results', good, '--out', 'out', '--api-url', server.url!, '--json'])
    expect(result.code).toBe(0)
    const out = join(dir, 'out')
    expect(JSON.parse(result.stdout)).toEqual({
      jobId: good,
      state: 'finalized',
      files: [
        { name: 'outputs.safetensors', path: join(out, 'outputs.safetensors'), bytes: content.length, hash },
      ],
    })
    expect(new Uint8Array(await readFile(join(out, 'outputs.safetensors')))).toEqual(content)
  })

  it('refuses a file that does not match its hash and leaves nothing under its name', async () => {
    const result = await ocn(['job', 'results', tampered, '--out', 'bad', '--api-url', server.url!])
    expect(result.code).toBe(2)
    expect(result.stderr).toMatch(/^error: outputs\.safetensors does not match its hash/)
    expect(await readdir(join(dir, 'bad'))).toEqual([])
  })

  it('says when there are no results yet, or no such job', async () => {
    const early = await ocn(['job', 'results', pending, '--out', 'x', '--api-url', server.url!, '--json'])
    expect(JSON.parse(early.stdout).error).toMatchObject({ code: 'JOB_NO_RESULTS' })
    expect(JSON.parse(early.stdout).error.message).toContain('it is committed')
    const unknown = await ocn(['job', 'results', '0x01', '--out', 'x', '--api-url', server.url!, '--json'])
    expect(JSON.parse(unknown.stdout).error.code).toBe('JOB_NOT_FOUND')
  })
})
