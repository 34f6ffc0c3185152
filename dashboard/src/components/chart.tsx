/**
 * A uPlot line chart that follows its data: created once per set of series, then fed with
 * setData (uPlot redraws in a few ms), and resized with its container.
 */
import { useEffect, useRef } from 'preact/hooks'
import uPlot from 'uplot'
import 'uplot/dist/uPlot.min.css'

export const PALETTE = [
  '#2563eb',
  '#d97706',
  '#dc2626',
  '#7c3aed',
  '#059669',
  '#db2777',
  '#0891b2',
  '#65a30d',
]

export interface ChartProps {
  /** x values (seconds since the epoch when `time`), then one array per series. */
  data: uPlot.AlignedData
  series: string[]
  height?: number
  yLabel: string
  /** Format of y tick labels. */
  yFormat?: (v: number) => string
  logY?: boolean
  time?: boolean
  /** Dots at each value, and lines across gaps: for sparse series such as window results. */
  points?: boolean
  /**
   * Dots at each value, gaps left as gaps: a value between two gaps (a second with output
   * between seconds without) has no line to draw and would not show at all.
   */
  dots?: boolean
  /** The x axis spans at least this many seconds back from the last value (a page just opened has a few). */
  minSpan?: number
}

export function Chart(props: ChartProps) {
  const box = useRef<HTMLDivElement>(null)
  const plot = useRef<uPlot | null>(null)
  const key = `${props.series.join('\u0000')}|${props.logY ?? false}|${props.time ?? true}|${props.points ?? false}|${props.dots ?? false}|${props.minSpan ?? 0}`

  useEffect(() => {
    const el = box.current
    if (!el) return
    const yFormat = props.yFormat ?? ((v: number) => String(v))
    // A log scale splits every decade nine times: lines at the powers of ten are enough.
    const decades = (_u: uPlot, splits: number[]) =>
      splits.map((v) => (Math.abs(Math.log10(v) - Math.round(Math.log10(v))) < 1e-9 ? v : null))
    const opts: uPlot.Options = {
      width: Math.max(200, el.clientWidth),
      height: props.height ?? 220,
      scales: {
        x: {
          time: props.time ?? true,
          // uPlot spans a lone x value over years (a day in ms, read as seconds): a minute instead.
          range: (u, min, max) => {
            const xs = u.data[0]
            if (props.minSpan !== undefined && xs.length > 0) return [Math.min(min, max - props.minSpan), max]
            const only = xs.length > 0 && xs[0] === xs[xs.length - 1] ? xs[0] : undefined
            return only === undefined ? [min, max] : [only - 30, only + 30]
          },
        },
        y: props.logY
          ? { distr: 3, log: 10 }
          : { auto: true, range: (_u, min, max) => [Math.min(0, min), max > 0 ? max * 1.1 : 1] },
      },
      axes: [
        { stroke: '#64748b', grid: { stroke: '#e2e8f0' } },
        {
          label: props.yLabel,
          stroke: '#64748b',
          grid: props.logY ? { stroke: '#e2e8f0', filter: decades } : { stroke: '#e2e8f0' },
          ...(props.logY ? { ticks: { filter: decades } } : {}),
          size: 60,
          // uPlot passes null for ticks it leaves unlabelled (minor ticks of a log scale).
          values: (_u, ticks) => ticks.map((t) => (t === null ? '' : yFormat(t))),
        },
      ],
      series: [
        {},
        ...props.series.map((label, i) => ({
          label,
          stroke: PALETTE[i % PALETTE.length]!,
          width: 1.6,
          spanGaps: props.points ?? false,
          points: { show: props.points ?? props.dots ?? false, size: props.points ? 6 : 5 },
          value: (_u: uPlot, v: number | null) => (v === null ? '–' : yFormat(v)),
        })),
      ],
      legend: { show: true },
      cursor: { drag: { x: false, y: false } },
    }
    const chart = new uPlot(opts, props.data, el)
    plot.current = chart
    const resize = new ResizeObserver(() =>
      chart.setSize({ width: Math.max(200, el.clientWidth), height: props.height ?? 220 }),
    )
    resize.observe(el)
    return () => {
      resize.disconnect()
      chart.destroy()
      plot.current = null
    }
    // The chart is rebuilt only when its series change; data flows in below.
  }, [key])

  useEffect(() => {
    plot.current?.setData(props.data)
  }, [props.data])

  return <div class="chart" ref={box} />
}
