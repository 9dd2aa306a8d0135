/**
 * The provider's earnings and slashes over time, drawn by uPlot (a small canvas chart library,
 * bundled: nothing is fetched at run time): two stepped lines, what finalized jobs paid so far
 * and the collateral convictions drew from so far, in OPEN, against the time each job settled.
 */
import type { ProviderSettlement } from '@ocn/client'
import { useEffect, useRef } from 'preact/hooks'
import uPlot from 'uplot'
import 'uplot/dist/uPlot.min.css'

/** OPEN base units as a number of OPEN (four decimals are all a chart can show). */
function toOpen(units: bigint): number {
  return Number(units / 10n ** 14n) / 1e4
}

/** The chart's columns: time (unix s), cumulative earnings, cumulative slashed collateral. */
export function chartSeries(settlements: readonly ProviderSettlement[]): [number[], number[], number[]] {
  const times: number[] = []
  const earned: number[] = []
  const slashed: number[] = []
  let paid = 0n
  let lost = 0n
  for (const settlement of settlements) {
    paid += settlement.earned
    lost += settlement.slashedCollateral
    times.push(settlement.at / 1000)
    earned.push(toOpen(paid))
    slashed.push(toOpen(lost))
  }
  return [times, earned, slashed]
}

const stepped = uPlot.paths.stepped?.({ align: 1 })

function chartOptions(width: number): uPlot.Options {
  const styles = getComputedStyle(document.documentElement)
  const color = (name: string, fallback: string) => styles.getPropertyValue(name).trim() || fallback
  const axis = { stroke: color('--muted', '#667085'), grid: { stroke: color('--line', '#e3e6ea') } }
  return {
    width,
    height: 180,
    legend: { show: true },
    // Earnings (job prices) and slashed collateral differ by orders of magnitude: each has its
    // own scale, earnings on the left axis, slashes on the right, so neither draws flat.
    scales: { x: { time: true }, earned: { auto: true }, slashed: { auto: true } },
    axes: [
      axis,
      { ...axis, scale: 'earned', label: 'earned (OPEN)', size: 60, stroke: color('--good', '#18864b') },
      {
        ...axis,
        scale: 'slashed',
        side: 1,
        label: 'slashed (OPEN)',
        size: 60,
        grid: { show: false },
        stroke: color('--bad', '#c4352b'),
      },
    ],
    series: [
      {},
      {
        label: 'earned',
        scale: 'earned',
        stroke: color('--good', '#18864b'),
        width: 2,
        ...(stepped ? { paths: stepped } : {}),
      },
      {
        label: 'slashed',
        scale: 'slashed',
        stroke: color('--bad', '#c4352b'),
        width: 2,
        ...(stepped ? { paths: stepped } : {}),
      },
    ],
  }
}

export function EarningsChart({ settlements }: { settlements: readonly ProviderSettlement[] }) {
  const box = useRef<HTMLDivElement>(null)
  const chart = useRef<uPlot | undefined>(undefined)
  const empty = settlements.length === 0
  useEffect(() => {
    const element = box.current
    if (element === null || empty) return
    const data = chartSeries(settlements)
    if (chart.current === undefined) {
      chart.current = new uPlot(chartOptions(Math.max(240, element.clientWidth)), data, element)
    } else chart.current.setData(data)
  }, [settlements, empty])
  useEffect(() => {
    const element = box.current
    if (element === null) return
    // the card's width follows the window: the chart follows the card
    const resize = new ResizeObserver(() =>
      chart.current?.setSize({ width: Math.max(240, element.clientWidth), height: 180 }),
    )
    resize.observe(element)
    return () => {
      resize.disconnect()
      chart.current?.destroy()
      chart.current = undefined
    }
  }, [])
  return (
    <figure data-testid="earnings-chart" aria-label="earnings and slashes over time">
      {empty && <p class="muted">no settled jobs yet</p>}
      <div ref={box} class="chart" />
    </figure>
  )
}
