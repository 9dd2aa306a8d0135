/**
 * The layers of @ocn/node, lowest first (docs/architecture.md explains each). A folder may
 * import its own modules and the folders of lower layers, never a folder of its own layer
 * or above: that keeps the base free of the daemon and the import graph free of loops.
 * `npm run lint` runs this; a new upward import fails the build.
 */
const layers = [
  ['core'],
  ['config'],
  ['state', 'keys', 'metrics'],
  ['api'],
  ['artifacts', 'chain', 'executor'],
  ['p2p', 'attribution'],
  ['channels'],
  ['roles'],
  ['daemon'],
  ['wiring'],
]

const src = '^packages/node/src/'
const layerRules = layers.flatMap((folders, level) => {
  const notBelow = layers.slice(level).flat()
  return folders.map((folder) => ({
    name: `layer-${folder}`,
    comment: `${folder}/ may import only the layers below it (${layers.slice(0, level).flat().join(', ') || 'none'})`,
    severity: 'error',
    from: { path: `${src}${folder}/` },
    to: { path: `${src}(${notBelow.filter((f) => f !== folder).join('|')})/` },
  }))
})

module.exports = {
  forbidden: [
    ...layerRules,
    {
      name: 'cli-devnet-below-commands',
      comment:
        'the devnet is a library the `ocn devnet` command runs; it never imports a command or an entry',
      severity: 'error',
      from: { path: '^packages/cli/src/devnet/' },
      to: { path: '^packages/cli/src/(commands|bin)/' },
    },
    {
      name: 'cli-commands-below-bin',
      comment: 'commands never import an executable entry',
      severity: 'error',
      from: { path: '^packages/cli/src/commands/' },
      to: { path: '^packages/cli/src/bin/' },
    },
    {
      name: 'node-never-imports-cli',
      comment: '@ocn/node is the embeddable daemon; the CLI is built on it, never the reverse',
      severity: 'error',
      from: { path: '^packages/node/' },
      to: { path: '^packages/cli/|@ocn/cli' },
    },
    {
      name: 'client-fetch-only',
      comment:
        '@ocn/client runs in Node and in the browser: it uses fetch and web APIs, never a Node built-in',
      severity: 'error',
      from: { path: '^packages/client/src/' },
      to: { dependencyTypes: ['core'] },
    },
    {
      name: 'console-no-node-builtins',
      comment: 'the console is a web page',
      severity: 'error',
      from: { path: '^packages/console/src/' },
      to: { dependencyTypes: ['core'] },
    },
    {
      name: 'no-folder-cycles',
      comment: 'folders of a package must not import each other in a loop',
      severity: 'error',
      scope: 'folder',
      from: { path: '^packages/[^/]+/src/' },
      to: { circular: true },
    },
    {
      name: 'no-module-cycles',
      comment: 'modules must not import each other in a loop',
      severity: 'error',
      from: { path: '^packages/[^/]+/src/' },
      to: { circular: true },
    },
    {
      name: 'layer-unknown-folder',
      comment: 'every folder of packages/node/src has a layer in .dependency-cruiser.cjs',
      severity: 'error',
      from: { path: src, pathNot: `${src}(${layers.flat().join('|')})/|${src}index\\.ts$` },
      to: {},
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)(dist|node_modules|test)/|\\.d\\.ts$' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.base.json' },
  },
}
