/**
 * The devnet's board (devnet/board.ts) as the devnet writes it from its events and a node's
 * API reads it back for `GET /devnet` (readDevnetBoard): nodes without their API token, the
 * workload's counts, and nothing but the fields the page shows.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { readDevnetBoard } from '@ocn/node'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createDevnetBoard } from '../../src/devnet/board.js'

let dir: string
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ocn-board-'))
})
afterEach(async () => {
  await rm(dir, { recursive: true, force: true })
})

const node = (name: string, roles: string[], cheater = false) => ({
  type: 'node' as const,
  node: {
    name,
    roles,
    cheater,
    address: `0x${name.length.toString(16).padStart(40, '0')}`,
    api: `http://x:${'t'.repeat(43)}@127.0.0.1:7410/`,
  },
})
const job = (name: string, state: string, status = state) => ({
  type: 'job' as const,
  job: { name, status },
  state,
  at: 1,
})

describe('devnet board', () => {
  it('keeps every node and the workload counts, read back by the node API', async () => {
    const board = createDevnetBoard(dir)
    board.onEvent(node('requester', ['requester']))
    board.onEvent(node('provider-2', ['provider'], true))
    board.setTotal(4)
    for (const event of [
      job('a', 'offered'),
      job('a', 'finalized'),
      job('b', 'slashed'),
      job('c', 'submit-failed'),
      job('d', 'executing'),
    ])
      board.onEvent(event)
    await board.flush()
    const served = await readDevnetBoard(board.path)
    expect(served.nodes.map((n) => [n.name, n.roles, n.cheater ?? false, n.state])).toEqual([
      ['requester', ['requester'], false, 'running'],
      ['provider-2', ['provider'], true, 'running'],
    ])
    // the token the devnet keeps in the URL's user part never reaches the board
    expect(served.nodes[0]!.apiUrl).toBe('http://127.0.0.1:7410/')
    expect(served.workload).toEqual({ submitted: 3, settled: 2, failed: 1, total: 4 })
  })

  it('answers 404 without a board and passes on only known fields', async () => {
    await expect(readDevnetBoard('')).rejects.toMatchObject({ code: 'API_NOT_FOUND' })
    const path = join(dir, 'board.json')
    await writeFile(
      path,
      JSON.stringify({ nodes: [{ name: 'n', roles: ['provider', 'root'], secret: 'x', state: 'odd' }] }),
    )
    const served = await readDevnetBoard(path)
    expect(served).toEqual({ nodes: [{ name: 'n', roles: ['provider'], address: '', state: 'running' }] })
    await writeFile(path, '{ not json')
    await expect(readDevnetBoard(path)).rejects.toMatchObject({ code: 'API_SERVICE_UNAVAILABLE' })
  })
})
