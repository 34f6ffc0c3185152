/**
 * Routes live in the URL hash (`#/topics/orders`), so the server serves one page and a reload
 * or a shared link opens the same view. Paths under `/topics/…` belong to the API.
 */
import { useEffect, useState } from 'preact/hooks'

export type Route =
  | { page: 'overview' }
  | { page: 'pipeline'; name: string }
  | { page: 'topics'; name: string | null }
  | { page: 'results'; topic: string | null; store: { pipeline: string; step: string } | null }
  | { page: 'latency'; pipeline: string | null }

export function parseRoute(hash: string): Route {
  const parts = hash
    .replace(/^#\/?/, '')
    .split('/')
    .filter((p) => p !== '')
    .map((p) => decodeURIComponent(p))
  const [head, a, b, c] = parts
  switch (head) {
    case 'pipelines':
      return a === undefined ? { page: 'overview' } : { page: 'pipeline', name: a }
    case 'topics':
      return { page: 'topics', name: a ?? null }
    case 'results':
      if (a === 'topic' && b !== undefined) return { page: 'results', topic: b, store: null }
      if (a === 'store' && b !== undefined && c !== undefined)
        return { page: 'results', topic: null, store: { pipeline: b, step: c } }
      return { page: 'results', topic: null, store: null }
    case 'latency':
      return { page: 'latency', pipeline: a ?? null }
    default:
      return { page: 'overview' }
  }
}

const seg = (s: string) => encodeURIComponent(s)

export const href = {
  overview: () => '#/',
  pipeline: (name: string) => `#/pipelines/${seg(name)}`,
  topics: () => '#/topics',
  topic: (name: string) => `#/topics/${seg(name)}`,
  results: () => '#/results',
  resultTopic: (topic: string) => `#/results/topic/${seg(topic)}`,
  resultStore: (pipeline: string, step: string) => `#/results/store/${seg(pipeline)}/${seg(step)}`,
  latency: (pipeline?: string) => (pipeline === undefined ? '#/latency' : `#/latency/${seg(pipeline)}`),
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash))
  useEffect(() => {
    const onChange = () => setRoute(parseRoute(location.hash))
    addEventListener('hashchange', onChange)
    return () => removeEventListener('hashchange', onChange)
  }, [])
  return route
}
