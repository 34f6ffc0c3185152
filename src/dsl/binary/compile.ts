/**
 * Compiles a schema into an encoder and a decoder: JavaScript source with a function per
 * struct and union, made once with `new Function`. Straight-line code that reads each field by
 * a fixed name is what V8 optimizes best (one shape, inline caches per property); a walk over
 * the schema at each value would add a call and a switch per field.
 */
import { SluiceError } from '../../errors.ts'
import { type ByteReader, type ByteWriter, corrupt } from './io.ts'
import type { Node } from './schema.ts'

export interface Compiled {
  readonly encode: (value: unknown, w: ByteWriter) => void
  readonly decode: (r: ByteReader) => unknown
}

/** A property name as a JavaScript string literal (for `v[...]` and object literals). */
const lit = (s: string) => JSON.stringify(s)

export function compile(root: Node): Compiled {
  const fns: string[] = []
  let next = 0
  const fresh = (p: string) => `${p}${next++}`

  /** Statements that write `x` (a variable name); `path` is a JavaScript expression for errors. */
  function enc(node: Node, x: string, path: string): string {
    switch (node.kind) {
      case 'number':
        return `if (typeof ${x} !== 'number') throw bad(${path}, ${x}, 'a number');
w.ensure(8); w.view.setFloat64(w.pos, ${x}, true); w.pos += 8;`
      case 'int32':
        return `if (!Number.isInteger(${x}) || ${x} < -2147483648 || ${x} > 2147483647) throw bad(${path}, ${x}, 'an integer from -2^31 to 2^31-1');
w.ensure(4); w.view.setInt32(w.pos, ${x}, true); w.pos += 4;`
      case 'boolean':
        return `if (typeof ${x} !== 'boolean') throw bad(${path}, ${x}, 'a boolean');
w.ensure(1); w.buf[w.pos++] = ${x} ? 1 : 0;`
      case 'string':
        return `if (typeof ${x} !== 'string') throw bad(${path}, ${x}, 'a string');
w.string(${x});`
      case 'bytes':
        return `if (!(${x} instanceof Uint8Array)) throw bad(${path}, ${x}, 'a Uint8Array');
w.bytes(${x});`
      case 'json': {
        const t = fresh('t')
        return `const ${t} = JSON.stringify(${x});
if (${t} === undefined) throw bad(${path}, ${x}, 'a JSON value');
w.string(${t});`
      }
      case 'nullable':
      case 'optional': {
        const none = node.kind === 'nullable' ? `${x} === null` : `${x} === undefined`
        return `w.ensure(1);
if (${none}) w.buf[w.pos++] = 0;
else { w.buf[w.pos++] = 1; ${enc(node.of, x, path)} }`
      }
      case 'array': {
        const i = fresh('i')
        const e = fresh('e')
        return `if (!Array.isArray(${x})) throw bad(${path}, ${x}, 'an array');
w.varint(${x}.length);
for (let ${i} = 0; ${i} < ${x}.length; ${i}++) { const ${e} = ${x}[${i}]; ${enc(node.of, e, `${path} + '[' + ${i} + ']'`)} }`
      }
      case 'struct':
      case 'oneOf':
      case 'tagged':
        return `${encoderFn(node)}(${x}, w, ${path});`
    }
  }

  /** Writes a function that encodes an object node; returns its name. */
  function encoderFn(node: Extract<Node, { kind: 'struct' | 'oneOf' | 'tagged' }>): string {
    const name = fresh('e')
    let body = `if (v === null || typeof v !== 'object') throw bad(path, v, 'an object');\n`
    if (node.kind === 'struct') {
      for (const [field, of] of node.fields) {
        const x = fresh('x')
        body += `const ${x} = v[${lit(field)}];\n${enc(of, x, `path + ${lit(`.${field}`)}`)}\n`
      }
    } else if (node.kind === 'oneOf') {
      node.cases.forEach(([key, of], tag) => {
        const x = fresh('x')
        body += `const ${x} = v[${lit(key)}];
if (${x} !== undefined) { w.ensure(1); w.buf[w.pos++] = ${tag}; ${enc(of, x, `path + ${lit(`.${key}`)}`)} return; }\n`
      })
      body += `throw bad(path, v, ${lit(`an object with one of the keys ${node.cases.map(([k]) => k).join(', ')}`)});`
    } else {
      body += `switch (v[${lit(node.tag)}]) {\n`
      node.cases.forEach(([value, struct], tag) => {
        body += `case ${lit(value)}: { w.ensure(1); w.buf[w.pos++] = ${tag};\n`
        for (const [field, of] of struct.fields) {
          const x = fresh('x')
          body += `const ${x} = v[${lit(field)}];\n${enc(of, x, `path + ${lit(`.${field}`)}`)}\n`
        }
        body += 'return; }\n'
      })
      body += `default: throw bad(path + ${lit(`.${node.tag}`)}, v[${lit(node.tag)}], ${lit(`one of ${node.cases.map(([k]) => k).join(', ')}`)}); }`
    }
    fns.push(`function ${name}(v, w, path) {\n${body}\n}`)
    return name
  }

  /** Statements that read a value into a new `const` named `x`. */
  function dec(node: Node, x: string): string {
    switch (node.kind) {
      case 'number':
        return `r.need(8); const ${x} = r.view.getFloat64(r.pos, true); r.pos += 8;`
      case 'int32':
        return `r.need(4); const ${x} = r.view.getInt32(r.pos, true); r.pos += 4;`
      case 'boolean':
        return `const ${x} = flag(r) === 1;`
      case 'string':
        return `const ${x} = r.string();`
      case 'bytes':
        return `const ${x} = r.bytes();`
      case 'json':
        return `const ${x} = parse(r.string());`
      case 'nullable':
      case 'optional': {
        const y = fresh('y')
        return `let ${x} = ${node.kind === 'nullable' ? 'null' : 'undefined'};
if (flag(r) === 1) { ${dec(node.of, y)} ${x} = ${y}; }`
      }
      case 'array': {
        const n = fresh('n')
        const i = fresh('i')
        const y = fresh('y')
        // Every element takes a byte at least (a struct without fields takes none: no bound).
        const bounded = !(node.of.kind === 'struct' && node.of.fields.length === 0)
        return `const ${n} = r.varint();
${bounded ? `if (${n} > r.end - r.pos) throw corrupt('an array of ' + ${n} + ' elements in ' + (r.end - r.pos) + ' bytes');` : ''}
const ${x} = [];
for (let ${i} = 0; ${i} < ${n}; ${i}++) { ${dec(node.of, y)} ${x}.push(${y}); }`
      }
      case 'struct':
      case 'oneOf':
      case 'tagged':
        return `const ${x} = ${decoderFn(node)}(r);`
    }
  }

  /** The fields of a struct read into consts, then the object: one literal, one shape. */
  function structBody(fields: ReadonlyArray<readonly [string, Node]>, tag?: [string, string]): string {
    let body = ''
    const required: string[] = tag ? [`${lit(tag[0])}: ${lit(tag[1])}`] : []
    const optionals: string[] = []
    for (const [field, of] of fields) {
      const x = fresh('x')
      body += `${dec(of, x)}\n`
      if (of.kind === 'optional') optionals.push(`if (${x} !== undefined) o[${lit(field)}] = ${x};`)
      else required.push(`${lit(field)}: ${x}`)
    }
    body += `const o = { ${required.join(', ')} };\n${optionals.join('\n')}\nreturn o;`
    return body
  }

  function decoderFn(node: Extract<Node, { kind: 'struct' | 'oneOf' | 'tagged' }>): string {
    const name = fresh('d')
    let body: string
    if (node.kind === 'struct') body = structBody(node.fields)
    else {
      body = `r.need(1);\nswitch (r.buf[r.pos++]) {\n`
      node.cases.forEach((c, tag) => {
        if (node.kind === 'oneOf') {
          const x = fresh('x')
          body += `case ${tag}: { ${dec(c[1], x)} return { ${lit(c[0])}: ${x} }; }\n`
        } else {
          const [value, struct] = c as readonly [string, Extract<Node, { kind: 'struct' }>]
          body += `case ${tag}: { ${structBody(struct.fields, [node.tag, value])} }\n`
        }
      })
      body += `default: throw corrupt('case ' + r.buf[r.pos - 1] + ' of a union with ${node.cases.length}'); }`
    }
    fns.push(`function ${name}(r) {\n${body}\n}`)
    return name
  }

  const encodeRoot = fresh('e')
  fns.push(`function ${encodeRoot}(v, w) {\n${enc(root, 'v', "'value'")}\n}`)
  const decodeRoot = fresh('d')
  fns.push(`function ${decodeRoot}(r) {\n${dec(root, 'v')}\nreturn v;\n}`)
  const source = `'use strict';\n${fns.join('\n\n')}\nreturn { encode: ${encodeRoot}, decode: ${decodeRoot} };`
  const make = new Function('bad', 'corrupt', 'flag', 'parse', source)
  return make(bad, corrupt, flag, parseJson) as Compiled
}

/** A JSON field's text: text that does not parse is a damaged value, not a SyntaxError. */
function parseJson(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch (e) {
    throw corrupt(`a JSON field that does not parse (${(e as Error).message})`)
  }
}

/** A flag byte (nullable, optional, boolean): 0 or 1, anything else is damage. */
function flag(r: ByteReader): number {
  r.need(1)
  const b = r.buf[r.pos++]!
  if (b > 1) throw corrupt(`a flag byte of ${b}`)
  return b
}

function bad(path: string, value: unknown, expected: string): SluiceError {
  return new SluiceError(
    'SLUICE_INVALID_INPUT',
    `cannot encode ${path}: it is ${describe(value)}, and the schema says ${expected}. ` +
      "Fix the value, or the topic's schema if the value is right.",
  )
}

function describe(value: unknown): string {
  if (value === null) return 'null'
  if (value === undefined) return 'missing (undefined)'
  if (Array.isArray(value)) return 'an array'
  if (typeof value === 'string')
    return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`
  if (typeof value === 'number' || typeof value === 'boolean') return `the ${typeof value} ${value}`
  return `a ${typeof value}`
}
