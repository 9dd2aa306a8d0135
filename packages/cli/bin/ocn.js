#!/usr/bin/env node
// The `ocn` command. npm links a package's bin at install time only if the file exists then,
// and dist/ does not exist until the first build: so the bin is this small committed file,
// and `npx ocn` works on a fresh clone right after `npm ci && npm run build`.
import { existsSync } from 'node:fs'

const entry = new URL('../dist/bin/ocn.js', import.meta.url)
if (!existsSync(entry)) {
  console.error(
    'ocn is not built yet: run `npm run build` at the repository root (or `npm start`, which builds first)',
  )
  process.exit(1)
}
await import(entry.href)
