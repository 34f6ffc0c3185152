/**
 * The Sluice dashboard: the shell (navigation, the connection banner, the token prompt) and
 * the page the URL hash names.
 */
import { render } from 'preact'
import { useEffect, useState } from 'preact/hooks'
import { storedToken } from './api.ts'
import { duration, time } from './format.ts'
import { type LiveState, start, submitToken, useLive } from './live.ts'
import { LatencyPage } from './pages/latency.tsx'
import { Overview } from './pages/overview.tsx'
import { PipelinePage } from './pages/pipeline.tsx'
import { ResultsPage } from './pages/results.tsx'
import { TopicPage, TopicsPage } from './pages/topics.tsx'
import { href, type Route, useRoute } from './router.ts'
import './styles.css'

function App() {
  const live = useLive()
  const route = useRoute()
  return (
    <>
      <Nav route={route} live={live} />
      <Banner live={live} />
      <main>
        {live.phase === 'running' ? <Page route={route} /> : null}
        {live.phase === 'starting' && live.connection === 'ok' ? <p class="empty">Connecting…</p> : null}
      </main>
      {live.phase === 'token' ? <TokenPrompt refused={live.tokenRefused} /> : null}
    </>
  )
}

function Page(props: { route: Route }) {
  const r = props.route
  switch (r.page) {
    case 'overview':
      return <Overview />
    case 'pipeline':
      return <PipelinePage name={r.name} />
    case 'topics':
      return r.name === null ? <TopicsPage /> : <TopicPage name={r.name} />
    case 'results':
      return <ResultsPage route={r} />
    case 'latency':
      return <LatencyPage pipeline={r.pipeline} />
  }
}

function Nav(props: { route: Route; live: LiveState }) {
  const page = props.route.page
  const link = (to: string, label: string, active: boolean) => (
    <a href={to} class={active ? 'navlink active' : 'navlink'} aria-current={active ? 'page' : undefined}>
      {label}
    </a>
  )
  return (
    <header class="nav">
      <a href={href.overview()} class="brand">
        Sluice
      </a>
      <nav aria-label="pages">
        {link(href.overview(), 'Overview', page === 'overview' || page === 'pipeline')}
        {link(href.topics(), 'Topics', page === 'topics')}
        {link(href.results(), 'Results', page === 'results')}
        {link(href.latency(), 'Latency', page === 'latency')}
      </nav>
      <span class="spacer" />
      {props.live.graphs.map((g) => (
        <a key={g.pipeline} href={href.pipeline(g.pipeline)} class="pipeline-link">
          {g.pipeline}
        </a>
      ))}
      <span
        class={`dot dot-${props.live.connection}`}
        title={props.live.connection === 'ok' ? 'connected' : 'server unreachable'}
        data-test="connection"
      />
    </header>
  )
}

/** Says when the server does not answer, and for a while after it is back. */
function Banner(props: { live: LiveState }) {
  const { live } = props
  const [, tick] = useState(0)
  useEffect(() => {
    const t = setInterval(() => tick((n) => n + 1), 1_000)
    return () => clearInterval(t)
  }, [])
  if (live.connection === 'down') {
    const away = live.downSince === null ? 0 : Date.now() - live.downSince
    const since = away < 1_000 ? '' : ` for ${duration(Math.floor(away / 1_000) * 1_000)}`
    return (
      <div class="banner banner-down" role="alert" data-test="banner">
        Server unreachable — retrying{since}.{' '}
        {live.metrics ? `The figures below are from ${time(live.metrics.at)}.` : ''}
      </div>
    )
  }
  if (live.recovered && Date.now() - live.recovered.at < 10_000) {
    return (
      <div class="banner banner-ok" role="status" data-test="banner">
        Reconnected.
        {live.recovered.restarted
          ? ' The server restarted: its counters started again, so rates skip the restart.'
          : ''}
      </div>
    )
  }
  if (live.problem) {
    return (
      <div class="banner banner-warn" role="alert" data-test="banner">
        {live.problem}
      </div>
    )
  }
  return null
}

function TokenPrompt(props: { refused: boolean }) {
  const [value, setValue] = useState('')
  const [busy, setBusy] = useState(false)
  return (
    <div class="modal-back">
      <form
        class="modal"
        data-test="token-prompt"
        onSubmit={async (e) => {
          e.preventDefault()
          setBusy(true)
          await submitToken(value)
          setBusy(false)
        }}
      >
        <h2>This server needs a token</h2>
        <p>
          Sluice was started with <code>--tokens</code>. Paste a token from that file; it is kept in this
          browser tab only (sessionStorage) and sent as <code>Authorization: Bearer</code>.
        </p>
        {props.refused && storedToken() !== null ? (
          <p class="error" data-test="token-refused">
            The server does not know that token.
          </p>
        ) : null}
        <input
          type="password"
          autocomplete="off"
          placeholder="token"
          value={value}
          onInput={(e) => setValue((e.target as HTMLInputElement).value)}
          aria-label="token"
        />
        <button type="submit" disabled={busy || value.trim() === ''}>
          Use token
        </button>
      </form>
    </div>
  )
}

render(<App />, document.getElementById('app')!)
void start()
