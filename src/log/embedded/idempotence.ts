import { SluiceError } from '../../errors.ts'

/** How many recent batches per producer and partition are remembered for retries (as Kafka). */
const REMEMBERED_BATCHES = 5

export interface RememberedBatch {
  firstSequence: number
  count: number
  baseOffset: number
}

/** Sequence state of one producer on one partition, persisted with every batch it appends. */
export interface ProducerPartitionState {
  epoch: number
  lastSequence: number
  recent: RememberedBatch[]
}

export type SequenceCheck = { kind: 'append' } | { kind: 'duplicate'; baseOffset: number }

/**
 * Decides what to do with a batch from an idempotent producer: append it (the next
 * sequence), acknowledge it again without appending (a retry of one of the last batches),
 * or reject it (a gap means a batch was lost in between; an older epoch is a zombie).
 */
export function checkSequence(
  state: ProducerPartitionState,
  epoch: number,
  baseSequence: number,
  count: number,
  where: string,
): SequenceCheck {
  if (epoch < state.epoch) {
    throw new SluiceError(
      'SLUICE_PRODUCER_FENCED',
      `producer epoch ${epoch} on ${where} was fenced by epoch ${state.epoch}: a newer instance with the same producer id is running`,
    )
  }
  if (epoch > state.epoch) {
    // A new incarnation of the producer starts its own sequence space.
    return { kind: 'append' }
  }
  if (baseSequence === state.lastSequence + 1) return { kind: 'append' }
  const remembered = state.recent.find((b) => b.firstSequence === baseSequence && b.count === count)
  if (remembered) return { kind: 'duplicate', baseOffset: remembered.baseOffset }
  throw new SluiceError(
    'SLUICE_OUT_OF_ORDER_SEQUENCE',
    `batch with sequence ${baseSequence} on ${where} does not follow the last sequence ${state.lastSequence}: ` +
      'a batch in between was never acknowledged. Re-send the missing batches in order, or start a new producer.',
  )
}

export function recordSequence(
  state: ProducerPartitionState,
  epoch: number,
  baseSequence: number,
  count: number,
  baseOffset: number,
): void {
  if (epoch > state.epoch) {
    state.epoch = epoch
    state.recent = []
  }
  state.lastSequence = baseSequence + count - 1
  state.recent.push({ firstSequence: baseSequence, count, baseOffset })
  if (state.recent.length > REMEMBERED_BATCHES) state.recent.shift()
}
