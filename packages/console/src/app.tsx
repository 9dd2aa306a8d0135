/** The console's frame: the node's identity and chain block, the live indicator, the views. */
import { useEffect, useState } from 'preact/hooks'
import { useNodeData } from './live.js'
import type { Session } from './session.js'
import { NetworkView } from './views/network.js'
import { ProviderView } from './views/provider.js'
import { RequesterView } from './views/requester.js'
import { VerifierView } from './views/verifier.js'

const views = {
  requester: RequesterView,
  provider: ProviderView,
  verifier: VerifierView,
  network: NetworkView,
}
type ViewName = keyof typeof views
const titles: Record<ViewName, string> = {
  requester: 'Requester',
  provider: 'Provider',
  verifier: 'Verifier',
  network: 'Network',
}

function viewFromHash(hash: string): ViewName {
  const name = hash.replace(/^#/, '')
  return name in views ? (name as ViewName) : 'requester'
}

export function App({ session }: { session: Session }) {
  const data = useNodeData(session.client)
  const [view, setView] = useState<ViewName>(viewFromHash(window.location.hash))
  useEffect(() => {
    const onHash = () => setView(viewFromHash(window.location.hash))
    window.addEventListener('hashchange', onHash)
    return () => window.removeEventListener('hashchange', onHash)
  }, [])
  const View = views[view]
  const status = data.status
  return (
    <div class="frame">
      <header>
        <strong>OCN</strong>
        <nav>
          {(Object.keys(views) as ViewName[]).map((name) => (
            <a key={name} href={`#${name}`} class={name === view ? 'active' : ''}>
              {titles[name]}
            </a>
          ))}
        </nav>
        <span class="meta" data-testid="chain-block">
          {status?.chain?.blockNumber === undefined ? 'no chain' : `block ${status.chain.blockNumber}`}
        </span>
        <span class={`live ${data.stream}`} data-testid="stream" title="the node's event stream">
          {data.stream}
        </span>
      </header>
      <main>
        <View data={data} session={session} />
      </main>
      <footer>
        {status === undefined
          ? 'connecting…'
          : `ocn ${status.version} · roles ${status.roles.join(', ') || 'none'}`}
      </footer>
    </div>
  )
}
