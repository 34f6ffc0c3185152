/**
 * Just enough Markdown reading to check the docs: fenced code blocks, relative links and the
 * anchors GitHub gives headings. Not a Markdown parser: the docs are plain CommonMark with
 * ``` fences, and what it misreads it reports as a problem rather than skipping.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'

export interface CodeBlock {
  /** The fence's info string, e.g. `ts examples/tutorial/step-1.ts#topic`. */
  info: string
  content: string
  /** 1-based line of the opening fence. */
  line: number
}

export interface Link {
  target: string
  line: number
}

/** The fenced (```) code blocks of a Markdown text, in order. */
export function codeBlocks(markdown: string): CodeBlock[] {
  const lines = markdown.split('\n')
  const blocks: CodeBlock[] = []
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,})(.*)$/.exec(lines[i]!)
    if (!open) continue
    const fence = open[2]!
    const body: string[] = []
    let j = i + 1
    while (j < lines.length && !lines[j]!.trim().startsWith(fence)) body.push(lines[j++]!)
    blocks.push({ info: open[3]!.trim(), content: body.join('\n'), line: i + 1 })
    i = j
  }
  return blocks
}

/** The text outside fenced code blocks, each line kept in place (code lines blanked). */
function proseLines(markdown: string): string[] {
  const lines = markdown.split('\n')
  let fence: string | null = null
  return lines.map((l) => {
    const m = /^\s*(`{3,})/.exec(l)
    if (fence === null && m) {
      fence = m[1]!
      return ''
    }
    if (fence !== null) {
      if (l.trim().startsWith(fence)) fence = null
      return ''
    }
    return l
  })
}

/** Inline and reference-style link targets outside code (fenced blocks and `spans`). */
export function links(markdown: string): Link[] {
  const found: Link[] = []
  proseLines(markdown).forEach((raw, i) => {
    const line = raw.replace(/`[^`]*`/g, (code) => ' '.repeat(code.length))
    for (const m of line.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
      found.push({ target: m[1]!, line: i + 1 })
    }
    const ref = /^\s*\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+"[^"]*")?\s*$/.exec(line)
    if (ref) found.push({ target: ref[1]!, line: i + 1 })
  })
  return found
}

/**
 * GitHub's anchor for a heading (as github-slugger makes it): the rendered text lowercased,
 * every character that is not a letter, mark, digit, connector (`_`), space or hyphen
 * removed, spaces turned into hyphens.
 */
export function slug(heading: string): string {
  const text = heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/`/g, '')
    .replace(/\*/g, '')
    .trim()
  return text
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
    .replace(/ /g, '-')
}

/** Every anchor a Markdown file offers: its headings' (with -1, -2… for repeats) and `<a id>`s. */
export function anchors(markdown: string): Set<string> {
  const result = new Set<string>()
  const seen = new Map<string, number>()
  for (const line of proseLines(markdown)) {
    const h = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line)
    if (h) {
      const base = slug(h[1]!)
      const n = seen.get(base) ?? 0
      seen.set(base, n + 1)
      result.add(n === 0 ? base : `${base}-${n}`)
    }
    for (const a of line.matchAll(/<a\s+(?:id|name)="([^"]+)"/g)) result.add(a[1]!)
  }
  return result
}

/** README.md and every Markdown file under docs/, relative to the repository root. */
export function docFiles(root: string): string[] {
  const docs = readdirSync(join(root, 'docs'), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.md'))
    .map((f) => join('docs', f))
    .sort()
  return ['README.md', ...docs]
}

/**
 * Broken relative links of the given Markdown files: a target that names no file or
 * directory, or an anchor (`#…`, in the same file or a linked .md file) that no heading has.
 * External links (scheme:) are not followed.
 */
export function brokenLinks(root: string, files: readonly string[]): string[] {
  const problems: string[] = []
  const anchorCache = new Map<string, Set<string>>()
  const anchorsOf = (path: string) => {
    let set = anchorCache.get(path)
    if (!set) {
      set = anchors(readFileSync(path, 'utf8'))
      anchorCache.set(path, set)
    }
    return set
  }
  for (const file of files) {
    const path = resolve(root, file)
    for (const { target, line } of links(readFileSync(path, 'utf8'))) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue
      const hash = target.indexOf('#')
      const pathPart = decodeURIComponent(hash < 0 ? target : target.slice(0, hash))
      const anchor = hash < 0 ? null : decodeURIComponent(target.slice(hash + 1))
      const dest = pathPart === '' ? path : resolve(dirname(path), pathPart)
      const where = `${file}:${line}: ${target}`
      if (!existsSync(dest)) {
        problems.push(`${where}: no such file (${relative(root, dest)})`)
        continue
      }
      if (anchor === null) continue
      if (statSync(dest).isDirectory() || !dest.endsWith('.md')) {
        problems.push(`${where}: an anchor into something that is not a Markdown file`)
        continue
      }
      if (!anchorsOf(dest).has(anchor)) {
        problems.push(`${where}: no heading with the anchor #${anchor} in ${relative(root, dest)}`)
      }
    }
  }
  return problems
}

/** Lines between `// #region <name>` and `// #endregion <name>`, or null when there is no such region. */
export function region(source: string, name: string): string | null {
  const lines = source.split('\n')
  const start = lines.findIndex((l) => l.trim() === `// #region ${name}`)
  if (start < 0) return null
  const end = lines.findIndex((l, i) => i > start && l.trim() === `// #endregion ${name}`)
  if (end < 0) return null
  return lines.slice(start + 1, end).join('\n')
}

/**
 * Code blocks that quote a file (info string `<lang> <path>` or `<lang> <path>#<region>`,
 * the path relative to the repository root) and differ from it. A quote of a whole file
 * leaves out its `#region`/`#endregion` marker lines.
 */
export function staleQuotes(root: string, file: string, markdown: string): string[] {
  const problems: string[] = []
  for (const block of codeBlocks(markdown)) {
    const m = /^\S+\s+([\w./-]+\.\w+)(?:#([\w-]+))?$/.exec(block.info)
    if (!m) continue
    const [, quoted, name] = m
    const where = `${file}:${block.line}: ${quoted}${name ? `#${name}` : ''}`
    const path = resolve(root, quoted!)
    if (!existsSync(path)) {
      problems.push(`${where}: no such file`)
      continue
    }
    const source = readFileSync(path, 'utf8')
    const expected =
      name === undefined
        ? source
            .split('\n')
            .filter((l) => !/^\s*\/\/ #(end)?region\b/.test(l))
            .join('\n')
        : region(source, name)
    if (expected === null) {
      problems.push(`${where}: no region "${name}" in the file`)
      continue
    }
    if (expected.trim() !== block.content.trim()) {
      const a = expected.trim().split('\n')
      const b = block.content.trim().split('\n')
      const at = a.findIndex((l, i) => l !== b[i])
      const n = at < 0 ? Math.min(a.length, b.length) : at
      problems.push(
        `${where}: the quote differs from the file at its line ${n + 1}:\n  file:  ${a[n] ?? '(end)'}\n  quote: ${b[n] ?? '(end)'}`,
      )
    }
  }
  return problems
}
