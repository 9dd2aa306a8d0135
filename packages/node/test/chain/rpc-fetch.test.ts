import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createPublicClient, http } from 'viem'
import { afterEach, describe, expect, it } from 'vitest'
import { createRpcFetch, RpcFetchError } from '../../src/chain/http-fetch.js'

let server: Server | undefined
afterEach(async () => {
  server?.closeAllConnections()
  await new Promise((r) => server?.close(r))
  server = undefined
})

/** A JSON-RPC endpoint on 127.0.0.1 answering eth_chainId, with `extra` for other paths. */
async function endpoint(answer: (body: string, res: import('node:http').ServerResponse) => void) {
  const sockets = new Set<unknown>()
  server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => answer(Buffer.concat(chunks).toString(), res))
  })
  server.on('connection', (s) => sockets.add(s))
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, sockets }
}

const chainId = (body: string, res: import('node:http').ServerResponse) => {
  const { id } = JSON.parse(body) as { id: number }
  res.setHeader('content-type', 'application/json')
  res.end(JSON.stringify({ jsonrpc: '2.0', id, result: '0x7a69' }))
}

describe('the chain client’s RPC fetch (node:http, keep-alive)', () => {
  it('serves viem’s JSON-RPC requests over one reused connection', async () => {
    const { url, sockets } = await endpoint(chainId)
    const client = createPublicClient({
      transport: http(url, { fetchFn: createRpcFetch({ maxResponseBytes: 1 << 20 }), retryCount: 0 }),
    })
    for (let i = 0; i < 5; i++) expect(await client.getChainId()).toBe(31337)
    expect(sockets.size).toBe(1)
  })

  it('fails a response over its size limit, naming the limit', async () => {
    const { url } = await endpoint((_body, res) => res.end('x'.repeat(5000)))
    const rpcFetch = createRpcFetch({ maxResponseBytes: 4096 })
    await expect(rpcFetch(url, { method: 'POST', body: '{}' })).rejects.toThrow(/larger than 4096 bytes/)
  })

  it('fails a response the endpoint cuts off before its end', async () => {
    const { url } = await endpoint((_body, res) => {
      res.setHeader('content-length', '1000')
      res.write('{"jsonrpc":"2.0"')
      setTimeout(() => res.socket?.destroy(), 20)
    })
    const rpcFetch = createRpcFetch({ maxResponseBytes: 1 << 20 })
    await expect(rpcFetch(url, { method: 'POST', body: '{}' })).rejects.toThrow(/closed the response early/)
  })

  it('gives up a stalled request when its signal aborts', async () => {
    const { url } = await endpoint(() => {}) // never answers
    const rpcFetch = createRpcFetch({ maxResponseBytes: 1 << 20 })
    const controller = new AbortController()
    setTimeout(() => controller.abort(new Error('timed out')), 100)
    await expect(rpcFetch(url, { method: 'POST', body: '{}', signal: controller.signal })).rejects.toThrow(
      'timed out',
    )
  })

  it('passes status, headers and body through, and refuses other protocols', async () => {
    const { url } = await endpoint((body, res) => {
      res.statusCode = 429
      res.setHeader('x-echo', body)
      res.end('slow down')
    })
    const res = await createRpcFetch({ maxResponseBytes: 1 << 20 })(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: 'ping',
    })
    expect(res.status).toBe(429)
    expect(res.headers.get('x-echo')).toBe('ping')
    expect(await res.text()).toBe('slow down')
    await expect(createRpcFetch({ maxResponseBytes: 1 })('ftp://127.0.0.1/')).rejects.toBeInstanceOf(
      RpcFetchError,
    )
  })
})
