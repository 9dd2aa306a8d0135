#!/usr/bin/env node
// Patterns that must not come back where the redesign of issue 11 removed them. Each entry
// names the folder, the pattern and what to do instead.
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'

const root = new URL('../..', import.meta.url).pathname
const rules = [
  {
    dir: 'packages/node/src/roles',
    pattern: /\bas unknown as\b/,
    fix: 'read per-job state through its typed accessor (state/job-detail.ts), not a double cast',
  },
  {
    dir: 'packages/client/src',
    pattern: /\bfrom '(?!\.|@ocn\/protocol\/api')/,
    fix: "@ocn/client ships to web pages: it imports nothing but its own modules and @ocn/protocol's pure api module (@ocn/protocol/api)",
  },
  {
    dir: 'packages/console/src',
    pattern: /\bfrom '(?!\.|preact'|preact\/hooks'|@ocn\/client'|uplot')/,
    fix: 'the console reaches its node only through @ocn/client (never @ocn/node: no keys in a page), views with preact, charts with uplot',
  },
  {
    dir: 'packages/node/src',
    pattern: /detail\??:\s*Record<string, unknown>/,
    fix: 'give the detail a tagged type in state/job-detail.ts',
  },
]

function* sources(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) yield* sources(path)
    else if (/\.tsx?$/.test(name)) yield path
  }
}

let found = 0
for (const rule of rules) {
  for (const file of sources(join(root, rule.dir))) {
    readFileSync(file, 'utf8')
      .split('\n')
      .forEach((line, i) => {
        if (!rule.pattern.test(line)) return
        found++
        console.error(`${relative(root, file)}:${i + 1}: ${line.trim()}\n  ${rule.fix}`)
      })
  }
}
if (found > 0) process.exit(1)
console.log('forbidden patterns: none')
