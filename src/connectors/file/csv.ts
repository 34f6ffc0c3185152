/**
 * CSV as RFC 4180 writes it: fields separated by a delimiter, records by LF or CRLF; a field
 * in double quotes may hold delimiters, newlines and quotes doubled (`""`). Two steps: find
 * where a record ends in raw bytes (a newline outside quotes), then split its text into fields.
 * The first works on bytes because file positions are bytes; it is safe on UTF-8 since every
 * byte of a multi-byte character is ≥ 0x80 and the delimiter, quote and newline are ASCII.
 */

const QUOTE = 0x22
const LF = 0x0a

const FIELD_START = 0
const UNQUOTED = 1
const QUOTED = 2
/** A quote inside a quoted field: either the first of `""` or the closing quote. */
const QUOTE_IN_QUOTED = 3

/** Returns the `unitEnd` function for records with this one-byte delimiter. */
export function csvRecordEnd(delimiter: string): (buf: Buffer) => number {
  const delim = delimiter.charCodeAt(0)
  return (buf) => {
    let state = FIELD_START
    for (let i = 0; i < buf.length; i++) {
      const b = buf[i]!
      switch (state) {
        case FIELD_START:
          if (b === QUOTE) state = QUOTED
          else if (b === LF) return i + 1
          else if (b !== delim) state = UNQUOTED
          break
        case UNQUOTED:
          if (b === delim) state = FIELD_START
          else if (b === LF) return i + 1
          break
        case QUOTED:
          if (b === QUOTE) state = QUOTE_IN_QUOTED
          break
        case QUOTE_IN_QUOTED:
          if (b === QUOTE) state = QUOTED
          else if (b === delim) state = FIELD_START
          else if (b === LF) return i + 1
          else state = UNQUOTED // malformed; parseCsvRecord says so
          break
      }
    }
    return -1
  }
}

/**
 * Splits one record (its text without the line ending) into fields. Returns an error message
 * for a quoted field that does not close or has text after its closing quote. A quote inside
 * an unquoted field is kept as it is (`5" pipe`), as most CSV writers emit it.
 */
export function parseCsvRecord(text: string, delimiter: string): string[] | { error: string } {
  const fields: string[] = []
  let i = 0
  for (;;) {
    if (text.charCodeAt(i) === QUOTE) {
      let value = ''
      let from = i + 1
      for (;;) {
        const q = text.indexOf('"', from)
        if (q < 0) {
          return {
            error: `field ${fields.length + 1} opens a quote that never closes; close it, and double any quote inside it ("")`,
          }
        }
        value += text.slice(from, q)
        if (text.charCodeAt(q + 1) === QUOTE) {
          value += '"'
          from = q + 2
          continue
        }
        i = q + 1
        break
      }
      fields.push(value)
      if (i === text.length) return fields
      if (text[i] !== delimiter) {
        return {
          error: `field ${fields.length} has text after its closing quote; quote the whole field and double any quote inside it ("")`,
        }
      }
      i++
    } else {
      const d = text.indexOf(delimiter, i)
      if (d < 0) {
        fields.push(text.slice(i))
        return fields
      }
      fields.push(text.slice(i, d))
      i = d + 1
    }
  }
}
