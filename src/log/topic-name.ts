import { SluiceError } from '../errors.ts'

const LEGAL = /^[a-zA-Z0-9._-]+$/
const MAX_LENGTH = 249

/**
 * Topic names follow Kafka's rules so that every topic can move to Kafka unchanged:
 * 1–249 characters of `a-z A-Z 0-9 . _ -`, and not `.` or `..`.
 */
export function validateTopicName(name: string): void {
  if (typeof name !== 'string' || name.length === 0) {
    throw new SluiceError('SLUICE_INVALID_TOPIC_NAME', 'topic name is empty: give a name such as "orders"')
  }
  if (name.length > MAX_LENGTH) {
    throw new SluiceError(
      'SLUICE_INVALID_TOPIC_NAME',
      `topic name "${name.slice(0, 40)}…" is ${name.length} characters long; the limit is ${MAX_LENGTH}`,
    )
  }
  if (name === '.' || name === '..' || !LEGAL.test(name)) {
    throw new SluiceError(
      'SLUICE_INVALID_TOPIC_NAME',
      `topic name "${name}" is not valid: use only letters, digits, ".", "_" and "-" (and not "." or "..")`,
    )
  }
}
