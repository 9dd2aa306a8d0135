/**
 * The `provider.models.onlyApproved` / `requester.models.onlyApproved` policy: a node that
 * turns it on runs (or pays for) only models the deployment's ModelRegistry lists as Approved.
 * The market itself refuses only revoked models at award; everything stricter is the node's
 * own choice, made here from the registry's status.
 */
import type { ModelStatus } from '@ocn/contracts-client'
import type { Hex } from 'viem'
import type { ModelStatusReadOptions } from '../chain/models.js'
import type { OcnChainService } from '../chain/service.js'
import { ConfigError } from '../config/errors.js'

export type ModelPolicyKey = 'provider.models.onlyApproved' | 'requester.models.onlyApproved'

/**
 * Fails the role's start when the policy is on but the deployment has no registry to judge
 * by: running without the check would silently accept every model.
 */
export function requireModelRegistry(chain: OcnChainService, key: ModelPolicyKey): void {
  if (chain.deployment.addresses.modelRegistry !== undefined) return
  throw new ConfigError(
    'CONFIG_DEPLOYMENT_UNSUITED',
    `${key} is on but the deployment names no ModelRegistry`,
    {
      key,
      details:
        'use a deployment file with addresses.modelRegistry (deployProtocol writes it), or turn the option off',
    },
  )
}

/** The model's registry status when it is not Approved, or undefined when it is. */
export async function unapprovedStatus(
  chain: OcnChainService,
  modelHash: Hex,
  options?: ModelStatusReadOptions,
): Promise<ModelStatus | undefined> {
  const status = await chain.modelStatus(modelHash, options)
  return status === 'approved' ? undefined : status
}

/** Words for a status in messages: `none` reads as "not registered". */
export function describeModelStatus(status: ModelStatus): string {
  return status === 'none' ? 'not registered' : status
}
