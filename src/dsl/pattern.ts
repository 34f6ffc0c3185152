import { type Duration, parseDuration } from '../util/duration.ts'

/**
 * Event patterns (CEP) per key: a sequence of named stages, each matching events by a
 * predicate, with quantifiers, contiguity, negation and a time bound.
 *
 * @example
 * // three declined payments, then an approved one, on the same card within 10 minutes
 * pattern<Txn>()
 *   .begin('declined', (t) => t.status === 'declined').times(3)
 *   .followedBy('approved', (t) => t.status === 'approved')
 *   .within('10m')
 * // five readings in a row above 30 °C
 * pattern<Reading>().begin('hot', (r) => r.celsius > 30).times(5).consecutive()
 * // a cart add with no checkout within 30 minutes
 * pattern<Click>().begin('add', (c) => c.kind === 'add').notFollowedBy('checkout', (c) => c.kind === 'checkout').within('30m')
 */
export interface PatternStage {
  readonly name: string
  readonly where: (value: unknown) => boolean
  readonly min: number
  readonly max: number
  /** `strict` (next): the stage's first event must come right after the previous stage's last. */
  readonly contiguity: 'strict' | 'relaxed'
  /** The stage's own repetitions must follow each other with no other event between. */
  readonly consecutive: boolean
  /** Events that end the partial match while it waits for this stage (notFollowedBy before it). */
  readonly guards: ReadonlyArray<{ name: string; where: (value: unknown) => boolean }>
}

export interface PatternSpec {
  readonly stages: readonly PatternStage[]
  /** notFollowedBy at the end: the match completes when `within` passes without such an event. */
  readonly trailingGuard: { name: string; where: (value: unknown) => boolean } | null
  readonly within: number | null
}

/** A builder in progress: `N` are the names of the stages whose events a match carries. */
export class Pattern<T, N extends string = never> {
  readonly spec: PatternSpec
  /** Guards declared after the last stage, waiting for the next stage (or the end). */
  readonly #pendingGuards: PatternStage['guards']
  declare readonly __names?: N
  declare readonly __type?: T

  constructor(spec: PatternSpec, pendingGuards: PatternStage['guards'] = []) {
    this.spec = spec
    this.#pendingGuards = pendingGuards
  }

  #last(what: string): PatternStage {
    const last = this.spec.stages[this.spec.stages.length - 1]
    if (!last || this.#pendingGuards.length > 0) {
      throw new TypeError(`pattern: ${what} applies to the stage before it, and there is none`)
    }
    return last
  }

  #withLast(what: string, change: (s: PatternStage) => PatternStage): Pattern<T, N> {
    const last = this.#last(what)
    return new Pattern<T, N>({ ...this.spec, stages: [...this.spec.stages.slice(0, -1), change(last)] })
  }

  #add<K extends string>(
    name: K,
    where: (value: T) => boolean,
    contiguity: PatternStage['contiguity'],
  ): Pattern<T, N | K> {
    this.#checkName(name)
    const stage: PatternStage = {
      name,
      where: where as (value: unknown) => boolean,
      min: 1,
      max: 1,
      contiguity,
      consecutive: false,
      guards: this.#pendingGuards,
    }
    return new Pattern<T, N | K>({ ...this.spec, stages: [...this.spec.stages, stage], trailingGuard: null })
  }

  #checkName(name: string): void {
    const taken = [...this.spec.stages.map((s) => s.name), ...this.#pendingGuards.map((g) => g.name)]
    if (taken.includes(name)) throw new TypeError(`pattern: two stages are named "${name}"`)
  }

  /** The first stage: every event it matches starts a new partial match. */
  begin<K extends string>(name: K, where: (value: T) => boolean): Pattern<T, N | K> {
    if (this.spec.stages.length > 0) throw new TypeError('pattern: begin() comes first, once')
    return this.#add(name, where, 'relaxed')
  }

  /** The next stage, starting with the very next event (strict contiguity). */
  next<K extends string>(name: K, where: (value: T) => boolean): Pattern<T, N | K> {
    this.#last('next()')
    return this.#add(name, where, 'strict')
  }

  /** The next stage, with any other events allowed in between (relaxed contiguity). */
  followedBy<K extends string>(name: K, where: (value: T) => boolean): Pattern<T, N | K> {
    this.#last('followedBy()')
    return this.#add(name, where, 'relaxed')
  }

  /**
   * No event matching `where` between the previous stage and the next one; at the end of a
   * pattern (needs `within`): none for `within` after the match began — the match is emitted
   * when that time has passed.
   */
  notFollowedBy(name: string, where: (value: T) => boolean): Pattern<T, N> {
    this.#last('notFollowedBy()')
    this.#checkName(name)
    const guard = { name, where: where as (value: unknown) => boolean }
    const guards = [...this.#pendingGuards, guard]
    return new Pattern<T, N>({ ...this.spec, trailingGuard: guard }, guards)
  }

  /** The previous stage matches exactly n events. */
  times(n: number): Pattern<T, N> {
    if (!Number.isInteger(n) || n < 1)
      throw new TypeError(`pattern: times() needs a whole number ≥ 1, got ${n}`)
    return this.#withLast('times()', (s) => ({ ...s, min: n, max: n }))
  }

  /** The previous stage matches one or more events (taken greedily while they match). */
  oneOrMore(): Pattern<T, N> {
    return this.#withLast('oneOrMore()', (s) => ({ ...s, min: 1, max: Number.POSITIVE_INFINITY }))
  }

  /** The previous stage may match no event at all. */
  optional(): Pattern<T, N> {
    if (this.spec.stages.length === 1) throw new TypeError('pattern: the first stage cannot be optional')
    return this.#withLast('optional()', (s) => ({ ...s, min: 0 }))
  }

  /** The previous stage's repetitions must be back to back (times/oneOrMore). */
  consecutive(): Pattern<T, N> {
    return this.#withLast('consecutive()', (s) => ({ ...s, consecutive: true }))
  }

  /** The whole match must fit in this much event time, from its first event. */
  within(duration: Duration): Pattern<T, N> {
    const within = parseDuration(duration, 'within')
    return new Pattern<T, N>({ ...this.spec, within }, this.#pendingGuards)
  }

  /** Checks the pattern is complete; called when a stream matches it. */
  validate(): PatternSpec {
    if (this.spec.stages.length === 0) throw new TypeError('pattern: start it with begin(name, where)')
    if (this.#pendingGuards.length > 0 && this.spec.within === null) {
      throw new TypeError(
        'pattern: a notFollowedBy() at the end needs within(): how long the absence must last',
      )
    }
    return this.spec
  }
}

/** A complete match: the events of each named stage, in event-time order. */
export interface Match<T, N extends string = string> {
  readonly key: string
  /** Event time of the first matched event. */
  readonly start: number
  /** Event time of the last matched event (or, for a trailing notFollowedBy, start + within). */
  readonly end: number
  readonly events: { readonly [K in N]: T[] }
}

/** Starts a pattern over events of type `T`. */
export function pattern<T>(): Pattern<T> {
  return new Pattern<T>({ stages: [], trailingGuard: null, within: null })
}
