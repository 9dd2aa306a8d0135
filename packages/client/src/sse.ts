/**
 * A reader of server-sent events over a fetch body (EventSource cannot send the bearer
 * token, so the client reads the text/event-stream format itself). Each event is size
 * limited; comments (the node's heartbeats) are skipped.
 */
import { ClientError } from './errors.js'

export interface ServerEvent {
  event: string
  data: string
  id?: string
}

function parseBlock(block: string): ServerEvent | undefined {
  let event = 'message'
  let id: string | undefined
  const data: string[] = []
  for (const line of block.split('\n')) {
    if (line === '' || line.startsWith(':')) continue
    const colon = line.indexOf(':')
    const field = colon === -1 ? line : line.slice(0, colon)
    const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '')
    if (field === 'event') event = value
    else if (field === 'data') data.push(value)
    else if (field === 'id') id = value
  }
  if (data.length === 0) return undefined
  return { event, data: data.join('\n'), ...(id === undefined ? {} : { id }) }
}

/** Yields each event of the stream until it ends; the caller's return() cancels the read. */
export async function* readServerEvents(
  body: ReadableStream<Uint8Array>,
  maxEventBytes: number,
): AsyncGenerator<ServerEvent> {
  const reader = body.getReader()
  const decoder = new TextDecoder()
  let buffer = ''
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (done) return
      buffer += decoder.decode(value, { stream: true }).replace(/\r\n?/g, '\n')
      let end = buffer.indexOf('\n\n')
      while (end !== -1) {
        const parsed = parseBlock(buffer.slice(0, end))
        buffer = buffer.slice(end + 2)
        if (parsed !== undefined) yield parsed
        end = buffer.indexOf('\n\n')
      }
      if (buffer.length > maxEventBytes)
        throw new ClientError('CLIENT_BAD_RESPONSE', `an event from the node is over ${maxEventBytes} bytes`)
    }
  } finally {
    await reader.cancel().catch(() => {})
  }
}
