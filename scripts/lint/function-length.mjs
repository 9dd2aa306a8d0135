#!/usr/bin/env node
// Fails when a function in packages/node or packages/cli runs over the line limit. Long
// functions are where the daemon became hard to change (issue 11); declarative tables are
// object literals, not functions, so they are not counted.
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import ts from 'typescript'

const LIMIT = 100
const root = new URL('../..', import.meta.url).pathname
const dirs = ['packages/node/src', 'packages/cli/src']

function* sources(dir) {
  let entries
  try {
    entries = readdirSync(dir)
  } catch {
    return
  }
  for (const name of entries) {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) yield* sources(path)
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) yield path
  }
}

function nameOf(node) {
  if (node.name && ts.isIdentifier(node.name)) return node.name.text
  const parent = node.parent
  if (parent && ts.isVariableDeclaration(parent) && ts.isIdentifier(parent.name)) return parent.name.text
  if (parent && ts.isPropertyAssignment(parent) && ts.isIdentifier(parent.name)) return parent.name.text
  return '(anonymous)'
}

// Functions that were already too long when the check came in (issue 11). Each may shrink
// or leave the list; none may grow, and no new function may join it.
const baselinePath = join(root, 'scripts/lint/function-length-baseline.json')
const baseline = JSON.parse(readFileSync(baselinePath, 'utf8'))
const update = process.argv.includes('--update')

const offenders = []
for (const dir of dirs) {
  for (const file of sources(join(root, dir))) {
    const text = readFileSync(file, 'utf8')
    const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true)
    const visit = (node) => {
      if (ts.isFunctionLike(node) && node.body) {
        const start = source.getLineAndCharacterOfPosition(node.getStart()).line
        const end = source.getLineAndCharacterOfPosition(node.getEnd()).line
        const lines = end - start + 1
        if (lines > LIMIT)
          offenders.push({ file: relative(root, file), line: start + 1, name: nameOf(node), lines })
      }
      ts.forEachChild(node, visit)
    }
    visit(source)
  }
}

const key = (o) => `${o.file} ${o.name}`
const failures = offenders.filter((o) => !(key(o) in baseline) || o.lines > baseline[key(o)])
for (const o of failures.sort((a, b) => b.lines - a.lines)) {
  const was = baseline[key(o)]
  const why =
    was === undefined
      ? `limit ${LIMIT}`
      : `it was ${was} when listed in function-length-baseline.json and may only shrink`
  console.error(`${o.file}:${o.line} ${o.name} is ${o.lines} lines (${why}): split it by responsibility`)
}
if (update) {
  const next = Object.fromEntries(offenders.map((o) => [key(o), o.lines]).sort())
  writeFileSync(baselinePath, `${JSON.stringify(next, null, 2)}\n`)
}
const stale = Object.keys(baseline).filter((k) => !offenders.some((o) => key(o) === k))
if (stale.length > 0 && !update) {
  console.error(
    `function-length-baseline.json lists functions now within the limit; remove them (or run with --update):\n  ${stale.join('\n  ')}`,
  )
  process.exit(1)
}
if (failures.length > 0) {
  console.error(`${failures.length} function(s) over ${LIMIT} lines`)
  process.exit(1)
}
console.log(`function length: ${offenders.length} listed function(s) over ${LIMIT} lines, none new or grown`)
