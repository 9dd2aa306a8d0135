/** Where the chain service finds the protocol deployment it talks to. */
import { readFile } from 'node:fs/promises'
import { type Deployment, parseDeployment } from '@ocn/contracts-client'
import { ChainServiceError } from './errors.js'

export async function loadDeploymentFile(path: string): Promise<Deployment> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (cause) {
    throw new ChainServiceError('CHAIN_DEPLOYMENT_MISSING', `no deployment file at ${path}`, {
      cause,
      details: 'run `ocn devnet` for a local network, or set chain.deploymentFile to the deployment JSON',
    })
  }
  try {
    return parseDeployment(text)
  } catch (cause) {
    throw new ChainServiceError('CHAIN_DEPLOYMENT_INVALID', `the deployment file ${path} is not valid`, {
      cause,
      details: (cause as Error).message,
    })
  }
}

/** The deployment given directly, else the one in `deploymentFile`. */
export async function resolveDeployment(init: {
  deployment?: Deployment | undefined
  deploymentFile?: string | undefined
}): Promise<Deployment> {
  if (init.deployment !== undefined) return init.deployment
  if (init.deploymentFile === undefined) {
    throw new ChainServiceError('CHAIN_DEPLOYMENT_MISSING', 'no deployment given to the chain service')
  }
  return loadDeploymentFile(init.deploymentFile)
}
