/**
 * A topic's records as they arrive, over the server's Server-Sent Events stream. EventSource
 * reconnects by itself and sends the last event id (the position vector), so a restart of the
 * server loses and repeats nothing here.
 */
import { useEffect, useRef, useState } from 'preact/hooks'
import { type ApiError, api, streamUrl } from '../api.ts'
import { preview, time } from '../format.ts'
import type { TailRecord, TopicSummary } from '../types.ts'

export type TailStatus = 'connecting' | 'live' | 'reconnecting' | 'closed'

export interface TailOptions {
  /** `latest`, `earliest`, or the last N records of each partition. */
  from: 'latest' | 'earliest' | { last: number }
  /** Most records kept (oldest dropped first). */
  keep: number
  paused?: boolean
}

/** Subscribes to a topic; returns the records (newest last) and the connection's state. */
export function useTail(
  topic: string | null,
  options: TailOptions,
): { records: TailRecord[]; status: TailStatus; error: string | null } {
  const [records, setRecords] = useState<TailRecord[]>([])
  const [status, setStatus] = useState<TailStatus>('connecting')
  const [error, setError] = useState<string | null>(null)
  const paused = useRef(options.paused ?? false)
  paused.current = options.paused ?? false
  const from = typeof options.from === 'string' ? options.from : `last:${options.from.last}`

  useEffect(() => {
    setRecords([])
    setError(null)
    setStatus('connecting')
    if (topic === null) return
    let source: EventSource | null = null
    let closed = false
    // Records are applied once per animation frame: a busy topic must not re-render per record.
    let pending: TailRecord[] = []
    let frame = 0
    const flush = () => {
      frame = 0
      const batch = pending
      pending = []
      setRecords((list) => {
        const next = list.concat(batch)
        return next.length > options.keep ? next.slice(next.length - options.keep) : next
      })
    }
    const open = async () => {
      const params: Record<string, string> = { slow: 'skip' }
      if (from.startsWith('last:')) {
        // Start N records before the end of each partition: the stream resumes from a position vector.
        try {
          const t = await api<TopicSummary>(`/api/topics/${encodeURIComponent(topic)}`)
          const n = Number(from.slice(5))
          params.lastEventId = t.partitionDetails
            .map((p) => `${p.partition}:${Math.max(p.startOffset, p.endOffset - n)}`)
            .join(',')
        } catch (e) {
          setError((e as ApiError).message)
          setStatus('closed')
          return
        }
      } else {
        params.from = from
      }
      if (closed) return
      source = new EventSource(streamUrl(topic, params))
      source.addEventListener('open', () => setStatus('live'))
      source.addEventListener('ready', () => setStatus('live'))
      source.addEventListener('record', (e) => {
        if (paused.current) return
        pending.push(JSON.parse((e as MessageEvent<string>).data) as TailRecord)
        if (frame === 0) frame = requestAnimationFrame(flush)
      })
      source.addEventListener('error', (e) => {
        const data = (e as MessageEvent<string>).data
        if (typeof data === 'string' && data !== '') {
          // The server's own error event: it closes the stream after it.
          setError((JSON.parse(data) as { error: string }).error)
          source?.close()
          setStatus('closed')
          return
        }
        setStatus(source?.readyState === EventSource.CLOSED ? 'closed' : 'reconnecting')
      })
    }
    void open()
    return () => {
      closed = true
      source?.close()
      if (frame !== 0) cancelAnimationFrame(frame)
    }
  }, [topic, from, options.keep])

  return { records, status, error }
}

/** Does a record match a filter: every word appears in its key or value text. */
export function matches(r: TailRecord, filter: string): boolean {
  const words = filter
    .toLowerCase()
    .split(/\s+/)
    .filter((w) => w !== '')
  if (words.length === 0) return true
  const text = `${r.key ?? ''} ${JSON.stringify(r.value)}`.toLowerCase()
  return words.every((w) => text.includes(w))
}

export function Tail(props: { topic: string }) {
  const [from, setFrom] = useState<'latest' | 'earliest' | 'last'>('last')
  const [filter, setFilter] = useState('')
  const [paused, setPaused] = useState(false)
  const { records, status, error } = useTail(props.topic, {
    from: from === 'last' ? { last: 100 } : from,
    keep: 500,
    paused,
  })
  // Newest first by time: partitions arrive in their own order, a reader wants one timeline.
  const shown = records
    .filter((r) => matches(r, filter))
    .reverse()
    .sort((a, b) => b.timestamp - a.timestamp)
  return (
    <section class="panel" data-test="tail">
      <header class="panel-head">
        <h2>Live tail</h2>
        <span class={`status status-${status}`} data-test="tail-status">
          {status}
        </span>
        <div class="controls">
          <label>
            from{' '}
            <select
              value={from}
              onChange={(e) => setFrom((e.target as HTMLSelectElement).value as typeof from)}
            >
              <option value="last">last 100 per partition</option>
              <option value="latest">now</option>
              <option value="earliest">the beginning</option>
            </select>
          </label>
          <input
            type="search"
            placeholder="filter: words in key or value"
            value={filter}
            onInput={(e) => setFilter((e.target as HTMLInputElement).value)}
            data-test="tail-filter"
            aria-label="filter records"
          />
          <button type="button" onClick={() => setPaused(!paused)}>
            {paused ? 'Resume' : 'Pause'}
          </button>
        </div>
      </header>
      {error ? <p class="error">{error}</p> : null}
      <p class="muted">
        {shown.length} of {records.length} records shown{paused ? ' · paused: new records are not added' : ''}
      </p>
      <div class="table-wrap tall">
        <table class="records">
          <thead>
            <tr>
              <th>time</th>
              <th>partition/offset</th>
              <th>key</th>
              <th>value</th>
              <th>headers</th>
            </tr>
          </thead>
          <tbody>
            {shown.map((r) => (
              <tr key={`${r.partition}:${r.offset}`} data-test="tail-record">
                <td class="nowrap">{time(r.timestamp)}</td>
                <td class="num">
                  {r.partition}/{r.offset}
                </td>
                <td class="mono">{r.key ?? <span class="muted">null</span>}</td>
                <td class="mono value">{preview(r.value, 240)}</td>
                <td class="mono small">
                  {Object.entries(r.headers)
                    .map(([k, v]) => `${k}=${preview(v, 40)}`)
                    .join(' ')}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {shown.length === 0 ? (
          <p class="empty">No records yet{filter ? ' matching the filter' : ''}.</p>
        ) : null}
      </div>
    </section>
  )
}
