/**
 * Wiring: a real node for `createDaemon`, as `ocn start`, the devnet and the end-to-end tests
 * build it. The composition itself (what starts in which order, with which options) is
 * `composeNode` in daemon/compose.ts; this adds the shared registry and the parts view.
 */
import type { Registry } from 'prom-client'
import type { NodeConfig } from '../config/options.js'
import type { Logger } from '../core/logger.js'
import { composeNode, type NodeCompositionOptions, type NodeParts } from '../daemon/compose.js'
import type { DaemonComponents, NodeComposition } from '../daemon/interface.js'
import type { NodeKeys } from '../keys/keystore.js'
import { createMetricsRegistry } from '../metrics/index.js'

export type { NodeCompositionOptions, NodeParts } from '../daemon/compose.js'

export interface NodeComponentsOptions extends NodeCompositionOptions {
  registry?: Registry
  logger?: Logger
}

export interface NodeComponents extends DaemonComponents {
  node: NodeComposition
  /** the concrete parts, filled in as the daemon starts them */
  parts: NodeParts
}

export function createNodeComponents(
  config: NodeConfig,
  keys: NodeKeys,
  options: NodeComponentsOptions = {},
): NodeComponents {
  const { registry, logger, ...composition } = options
  const parts: NodeParts = { roles: {} }
  return {
    registry: registry ?? createMetricsRegistry(),
    keys,
    ...(logger === undefined ? {} : { logger }),
    node: composeNode(config, keys, composition, parts),
    parts,
  }
}
