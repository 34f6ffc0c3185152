/**
 * The generator's clock and agenda: a discrete-event simulation in event time. Shoppers and
 * the back office schedule actions; each action runs at its time and delivers records. The
 * clock only moves forward, one action at a time, so the records depend on the seed and not
 * on how fast anyone reads them.
 */
import type { Click, Product, ProductChange } from './model.ts'
import type { Random } from './random.ts'

export type Delivery =
  | { topic: 'products'; key: string; value: Product }
  | { topic: 'clicks'; key: string; value: Click }
  | { topic: 'changes'; key: string; value: ProductChange }

/** Late deliveries stay within this much event time: the pipeline's maxOutOfOrder covers it. */
export const MAX_DELAY_MS = 8_000
/** Clicks come from phones: this share of them arrives late. */
const LATE_RATE = 0.05

interface Action {
  at: number
  seq: number
  run: () => void
}

export class Simulation {
  readonly random: Random
  /** Scheduled actions by (time, sequence). */
  readonly #agenda: Action[] = []
  #seq = 0
  #clock: number
  #generated = 0
  #ready: Delivery[] = []
  /** Clicks held back for late delivery, by delivery time. */
  readonly #delayed: Array<{ due: number; delivery: Delivery }> = []

  constructor(random: Random, startAt: number) {
    this.random = random
    this.#clock = startAt
  }

  /** Event time (ms) reached: every later delivery is after it minus MAX_DELAY_MS. */
  get clock(): number {
    return this.#clock
  }

  /** Records generated so far (delivered or held back). */
  get generated(): number {
    return this.#generated
  }

  schedule(at: number, run: () => void): void {
    const action = { at, seq: this.#seq++, run }
    const agenda = this.#agenda
    let lo = 0
    let hi = agenda.length
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      const a = agenda[mid]!
      if (a.at < at || (a.at === at && a.seq < action.seq)) lo = mid + 1
      else hi = mid
    }
    agenda.splice(lo, 0, action)
  }

  /** Clicks may arrive late; the back office's records arrive in order. */
  deliver(delivery: Delivery): void {
    this.#generated++
    if (delivery.topic === 'clicks' && this.random.chance(LATE_RATE)) {
      const due = this.#clock + this.random.between(500, MAX_DELAY_MS)
      let at = this.#delayed.length
      while (at > 0 && this.#delayed[at - 1]!.due > due) at--
      this.#delayed.splice(at, 0, { due, delivery })
    } else this.#ready.push(delivery)
  }

  /** The next record in delivery order, running actions until there is one. */
  next(): Delivery {
    while (this.#ready.length === 0) this.#step()
    return this.#ready.shift()!
  }

  #step(): void {
    const action = this.#agenda.shift()
    if (!action) throw new Error('the simulation has nothing scheduled')
    // Strictly increasing: every catalogue row of one time comes from one action, so "the
    // row valid at t" means the same to the generator and to the pipeline's join.
    this.#clock = Math.max(Math.round(action.at), this.#clock + 1)
    // Late clicks due by now go first: then nothing delivered before them is MAX_DELAY_MS
    // or more newer than they are.
    while (this.#delayed.length > 0 && this.#delayed[0]!.due <= this.#clock) {
      this.#ready.push(this.#delayed.shift()!.delivery)
    }
    action.run()
  }
}
