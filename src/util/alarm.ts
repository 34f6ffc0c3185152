/**
 * A sleep that can be cut short: `sleep(ms)` resolves after `ms`, or at once when `wake()` is
 * called (by a message, an append, a stop). One sleeper at a time.
 */
export class Alarm {
  #wake: (() => void) | null = null

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#wake = null
        resolve()
      }, ms)
      this.#wake = () => {
        clearTimeout(timer)
        this.#wake = null
        resolve()
      }
    })
  }

  wake(): void {
    this.#wake?.()
  }
}
