/**
 * The provider's capability ad on gossip: its device, price and free slots. Requesters pick
 * bidders and verifiers find the provider's peer from it, so it is re-published at half its
 * lifetime and again whenever a result is committed.
 */
import { type CapabilityAd, MAX_CACHED_MODELS_ADVERTISED } from '@ocn/protocol'
import type { Hex } from 'viem'
import { busySlots, openJobs, type ProviderContext } from './context.js'

export interface Advertiser {
  /** publishes a fresh ad now (errors are logged, never thrown) */
  publish(): Promise<void>
  start(): Promise<void>
  stop(): void
}

async function capabilityAd(ctx: ProviderContext, binding: NonNullable<ProviderContext['binding']>) {
  const { executor, network, keys } = ctx.components
  const { options } = ctx
  const caps = await executor.capabilities()
  const now = Math.floor(Date.now() / 1000)
  const gpu = caps.gpus[0]
  const cached = (await openJobs(ctx))
    .map((j) => j.modelHash)
    .filter((h): h is string => h !== undefined)
    .slice(0, MAX_CACHED_MODELS_ADVERTISED) as Hex[]
  const ad: CapabilityAd = {
    version: 1,
    providerPeerId: network.peerId,
    provider: keys.account.address,
    providerBinding: binding,
    device:
      gpu !== undefined && options.devices.some((d) => d.startsWith('cuda'))
        ? { kind: 'gpu', name: gpu.name.slice(0, 128), memoryBytes: gpu.memoryBytes }
        : { kind: 'cpu', name: caps.cpuModel.slice(0, 128), memoryBytes: caps.memoryBytes },
    executionProviders: caps.executionProviders.slice(0, 8),
    cores: Math.min(caps.cores, 65_535),
    modelsCached: [...new Set(cached)],
    pricePerUnit: options.priceFloorPerSample,
    freeSlots: Math.max(0, options.maxConcurrentJobs - (await busySlots(ctx))),
    issuedAt: now,
    expiresAt: now + ctx.options.capabilityAdTtlSeconds,
  }
  return ad
}

export function createAdvertiser(ctx: ProviderContext): Advertiser {
  let timer: NodeJS.Timeout | undefined

  async function publishNow(): Promise<void> {
    if (ctx.binding === undefined) return
    const ad = await capabilityAd(ctx, ctx.binding)
    await ctx.components.network.gossip.publishCapabilityAd(ad).catch((err: unknown) => {
      // no subscribed peer yet is normal right after start
      ctx.log.debug({ err }, 'capability ad not published')
    })
  }

  const publish = () => publishNow().catch((err: unknown) => ctx.log.debug({ err }, 'ad failed'))

  return {
    publish,
    async start() {
      await publishNow()
      timer = setInterval(() => void publish(), (ctx.options.capabilityAdTtlSeconds * 1000) / 2)
      // gossip meshes form a moment after connecting: announce again soon
      setTimeout(() => void publishNow().catch(() => {}), 2_000).unref()
    },
    stop() {
      if (timer) clearInterval(timer)
    },
  }
}
