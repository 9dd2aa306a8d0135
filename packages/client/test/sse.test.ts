/** The text/event-stream reader: events split anywhere across chunks, CRLF, comments, limits. */
import { describe, expect, it } from 'vitest'
import { readServerEvents, type ServerEvent } from '../src/sse.js'

function streamOf(chunks: string[]): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder()
  return new ReadableStream({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(encoder.encode(chunk))
      controller.close()
    },
  })
}

async function collect(chunks: string[], limit = 1024): Promise<ServerEvent[]> {
  const events: ServerEvent[] = []
  for await (const event of readServerEvents(streamOf(chunks), limit)) events.push(event)
  return events
}

describe('readServerEvents', () => {
  it('reads events split across chunks, skipping comments', async () => {
    const text =
      'event: ready\ndata: {"at":1}\n\n: ping\n\nid: 7\nevent: job\ndata: {"job":{"id":"0xaa"}}\n\n'
    const whole = await collect([text])
    expect(whole).toEqual([
      { event: 'ready', data: '{"at":1}' },
      { event: 'job', data: '{"job":{"id":"0xaa"}}', id: '7' },
    ])
    // every split point gives the same events
    for (let cut = 1; cut < text.length; cut += 7)
      expect(await collect([text.slice(0, cut), text.slice(cut)])).toEqual(whole)
  })

  it('takes CRLF line ends, joins multi-line data, defaults the event name', async () => {
    expect(await collect(['data: a\r\ndata: b\r\n\r\n'])).toEqual([{ event: 'message', data: 'a\nb' }])
  })

  it('refuses an event over the size limit', async () => {
    await expect(collect([`data: ${'x'.repeat(2048)}`], 1024)).rejects.toMatchObject({
      code: 'CLIENT_BAD_RESPONSE',
    })
  })
})
