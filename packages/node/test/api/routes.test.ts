import { describe, expect, it } from 'vitest'
import { apiRoutes, matchApiRoute } from '../../src/api/routes.js'

describe('the route table', () => {
  it('builds paths with each parameter percent-encoded, and queries without empty fields', () => {
    expect(apiRoutes.job.path({ id: 'a/b c' })).toBe('/jobs/a%2Fb%20c')
    expect(apiRoutes.jobResultFile.path({ id: '0x12', name: 'outputs.safetensors' })).toBe(
      '/jobs/0x12/results/outputs.safetensors',
    )
    expect(apiRoutes.jobs.path({}, { state: 'finalized', limit: 5 })).toBe('/jobs?state=finalized&limit=5')
    expect(apiRoutes.bids.path({}, {})).toBe('/bids')
  })

  it('matches every built path back to its route, with the raw parameters', () => {
    for (const [name, route] of Object.entries(apiRoutes)) {
      const path = route.pattern.replace(/:([a-z]+)/g, 'x')
      expect(matchApiRoute(route.method, path)?.name).toBe(name)
    }
    expect(matchApiRoute('GET', '/jobs/a%2Fb/results/c')).toEqual({
      name: 'jobResultFile',
      params: { id: 'a%2Fb', name: 'c' },
    })
  })

  it('matches nothing off the table, so metrics labels stay a fixed set', () => {
    for (const path of ['/', '/jobs/x/other', '/jobs/x/results/a/b', 'jobs', '/status/']) {
      expect(matchApiRoute('GET', path)).toBeUndefined()
    }
    expect(matchApiRoute('POST', '/status')).toBeUndefined()
    expect(new Set(Object.values(apiRoutes).map((r) => r.label)).size).toBe(Object.keys(apiRoutes).length)
  })
})
