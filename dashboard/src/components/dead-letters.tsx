/**
 * The dead-letter browser: each failed record with the error, the step that threw and where
 * the record came from; Replay re-sends its original key and value to that topic (once: the
 * server remembers the replay of each dead letter).
 */
import { useState } from 'preact/hooks'
import { api } from '../api.ts'
import { preview, time } from '../format.ts'
import { usePoll } from '../live.ts'
import { href } from '../router.ts'
import type { DeadLetter, ReplayResult } from '../types.ts'

export function DeadLetters(props: { topic: string }) {
  const { data, error } = usePoll<{ records: DeadLetter[] }>(
    `/api/dead-letters/${encodeURIComponent(props.topic)}?limit=100`,
    2_000,
  )
  const [outcome, setOutcome] = useState<Record<string, { ok: boolean; text: string }>>({})
  const [open, setOpen] = useState<string | null>(null)

  const replay = async (d: DeadLetter) => {
    const id = `${d.partition}:${d.offset}`
    setOutcome((o) => ({ ...o, [id]: { ok: true, text: 'replaying…' } }))
    try {
      const r = await api<ReplayResult>(
        `/api/dead-letters/${encodeURIComponent(props.topic)}/${d.partition}/${d.offset}/replay`,
        { method: 'POST' },
      )
      const where = r.offset === null ? r.topic : `${r.topic}/${r.partition} @ ${r.offset}`
      setOutcome((o) => ({
        ...o,
        [id]: { ok: true, text: r.alreadyReplayed ? `already replayed to ${where}` : `replayed to ${where}` },
      }))
    } catch (e) {
      setOutcome((o) => ({ ...o, [id]: { ok: false, text: (e as Error).message } }))
    }
  }

  const records = data?.records ?? []
  return (
    <section class="panel" data-test="dead-letters">
      <header class="panel-head">
        <h2>Dead letters</h2>
        <span class="muted">newest first · {records.length} shown</span>
      </header>
      {error ? <p class="error">{error}</p> : null}
      {data && records.length === 0 ? <p class="empty">No dead letters: every record went through.</p> : null}
      {records.length > 0 ? (
        <div class="table-wrap">
          <table class="records">
            <thead>
              <tr>
                <th>time</th>
                <th>step</th>
                <th>error</th>
                <th>from</th>
                <th>key</th>
                <th>value</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {records.map((d) => {
                const id = `${d.partition}:${d.offset}`
                const done = outcome[id]
                return (
                  <tr key={id} data-test="dead-letter">
                    <td class="nowrap">{time(d.timestamp)}</td>
                    <td class="mono" data-test="dead-letter-operator">
                      {d.pipeline ? `${d.pipeline} · ` : ''}
                      {d.operator || '–'}
                    </td>
                    <td class="error-text" data-test="dead-letter-error">
                      <button type="button" class="link" onClick={() => setOpen(open === id ? null : id)}>
                        {preview(d.error, 140)}
                      </button>
                      {open === id && d.stack ? <pre class="stack">{d.stack}</pre> : null}
                    </td>
                    <td class="mono nowrap" data-test="dead-letter-origin">
                      {d.origin ? (
                        <a href={href.topic(d.origin.topic)}>
                          {d.origin.topic}/{d.origin.partition} @ {d.origin.offset}
                        </a>
                      ) : (
                        <span class="muted">unknown</span>
                      )}
                    </td>
                    <td class="mono">{d.key ?? <span class="muted">null</span>}</td>
                    <td class="mono value">{d.value === null ? 'null' : preview(d.value, 160)}</td>
                    <td class="nowrap">
                      <button
                        type="button"
                        disabled={!d.origin || done?.text === 'replaying…'}
                        title={
                          d.origin
                            ? `re-send the original record to ${d.origin.topic}`
                            : 'no source topic is known'
                        }
                        onClick={() => void replay(d)}
                        data-test="replay"
                      >
                        Replay
                      </button>
                      {done ? (
                        <div class={done.ok ? 'ok-text small' : 'error-text small'} data-test="replay-result">
                          {done.text}
                        </div>
                      ) : null}
                    </td>
                  </tr>
                )
              })}
            </tbody>
          </table>
        </div>
      ) : null}
    </section>
  )
}
