/** A tiny line of recent values (nulls are gaps), scaled to its own maximum. */
export function Sparkline(props: {
  values: readonly (number | null)[]
  width?: number
  height?: number
  label: string
}) {
  const width = props.width ?? 110
  const height = props.height ?? 26
  const values = props.values
  const max = Math.max(0, ...values.filter((v): v is number => v !== null))
  const step = values.length > 1 ? width / (values.length - 1) : width
  let d = ''
  let pen = false
  values.forEach((v, i) => {
    if (v === null) {
      pen = false
      return
    }
    const x = (i * step).toFixed(1)
    const y = (height - 2 - (max > 0 ? (v / max) * (height - 4) : 0)).toFixed(1)
    d += `${pen ? 'L' : 'M'}${x} ${y}`
    pen = true
  })
  return (
    <svg
      class="sparkline"
      width={width}
      height={height}
      viewBox={`0 0 ${width} ${height}`}
      role="img"
      aria-label={props.label}
    >
      <title>{props.label}</title>
      <path d={d} />
    </svg>
  )
}
