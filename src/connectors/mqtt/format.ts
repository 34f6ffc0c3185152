/**
 * How the sink's error messages show a topic and a size. They are also dead-letter reasons,
 * and the sink groups rejected records by that text, so every file must write them one way.
 */

/** A topic for a message: JSON-quoted (control characters visible), long ones cut. */
export function quote(topic: string): string {
  return JSON.stringify(topic.length > 120 ? `${topic.slice(0, 100)}…` : topic)
}

export function count(n: number): string {
  return n.toLocaleString('en-US')
}
