/**
 * Result files for the local API (`GET /jobs/:id/results[/:name]`) on a requester whose role
 * service does not serve them itself: the requester records the content hash of the outputs
 * it fetched and checked (`detail.results.outputHash`), and the bytes are in the node's
 * artifact store. A role that implements `jobResults`/`openJobResult` is left as it is.
 */

import type {
  ArtifactStore,
  JobDetail,
  NodeComponents,
  NodeComposition,
  RoleService,
  StateStore,
} from '@ocn/node'

const OUTPUTS_FILE = 'outputs.safetensors'
const CONTENT_HASH = /^0x[0-9a-f]{64}$/

function outputHashOf(detail: JobDetail | undefined): `0x${string}` | undefined {
  const hash = detail?.role === 'requester' ? detail.results?.outputHash.toLowerCase() : undefined
  return hash !== undefined && CONTENT_HASH.test(hash) ? (hash as `0x${string}`) : undefined
}

function addResultFiles(role: RoleService, state: StateStore, store: () => ArtifactStore | undefined): void {
  if (role.jobResults !== undefined || role.openJobResult !== undefined) return
  role.jobResults = async (id) => {
    const job = await state.getJob(id)
    if (job === undefined) return undefined
    const hash = outputHashOf(job.detail)
    const size = hash === undefined ? undefined : await store()?.size(hash)
    return {
      jobId: id,
      state: job.state,
      ...(job.resultRoot === undefined ? {} : { resultRoot: job.resultRoot }),
      files: hash === undefined || size === undefined ? [] : [{ name: OUTPUTS_FILE, bytes: size, hash }],
    }
  }
  role.openJobResult = async (id, name, options) => {
    if (name !== OUTPUTS_FILE) return undefined
    const job = await state.getJob(id)
    const hash = outputHashOf(job?.detail)
    const artifacts = store()
    if (hash === undefined || artifacts === undefined || !(await artifacts.has(hash))) return undefined
    return artifacts.get(hash, options?.signal === undefined ? {} : { signal: options.signal })
  }
}

export function withResultFiles(components: NodeComponents): NodeComponents {
  const { node, parts } = components
  const wrapped: NodeComposition = {
    roles: node.roles,
    async compose(context) {
      const services = await node.compose(context)
      const requester = services.roles.find((role) => role.role === 'requester')
      if (requester !== undefined) addResultFiles(requester, context.state, () => parts.store)
      return services
    },
  }
  return { ...components, node: wrapped }
}
