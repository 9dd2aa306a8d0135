/** What both doctor tests (the unit one and the one on a running devnet) expect of a healthy node. */

/** The checks `ocn doctor` runs, in the order it reports them. */
export const doctorChecks = [
  'node',
  'keys',
  'chain',
  'funds',
  'listen',
  'bootstrap',
  'execution',
  'disk',
] as const

/** `[name, 'ok']` for each check, as the tests map a report (`[r.name, r.status]`). */
export function everyCheckOk(checks: readonly string[] = doctorChecks): [string, 'ok'][] {
  return checks.map((name) => [name, 'ok'])
}
