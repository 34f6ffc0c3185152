/**
 * Code the docs quote from a file (a fence like ```ts examples/tutorial/step-3.ts#rule) is
 * that file's code, character for character: the file is what tsc checks and the tests run,
 * so a quote that drifted would show readers code nobody checked.
 */
import assert from 'node:assert/strict'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { tempDir } from '../../helpers/temp-dir.ts'
import { codeBlocks, docFiles, region, staleQuotes } from './markdown.ts'

const root = join(import.meta.dirname, '../../..')

test('a quote that differs from its file, or names a missing region, is reported', () => {
  const dir = tempDir('sluice-docs-')
  writeFileSync(join(dir, 'a.ts'), 'const x = 1\n// #region r\nconst y = 2\n// #endregion r\n')
  const md = [
    '```ts a.ts#r',
    'const y = 2',
    '```',
    '```ts a.ts#r',
    'const y = 3',
    '```',
    '```ts a.ts#nope',
    '```',
    '```ts a.ts',
    'const x = 1',
    'const y = 2',
    '```',
    '```ts',
    'not a quote',
    '```',
  ].join('\n')
  const problems = staleQuotes(dir, 'page.md', md)
  assert.equal(problems.length, 2, problems.join('\n'))
  assert.match(
    problems[0]!,
    /page\.md:4: a\.ts#r: the quote differs.*\n {2}file: {2}const y = 2\n {2}quote: const y = 3/,
  )
  assert.match(problems[1]!, /page\.md:7: a\.ts#nope: no region "nope"/)
  assert.equal(region('// #region a\nx\n// #endregion a', 'a'), 'x')
})

test('every quoted block in docs/ equals its file', () => {
  let quotes = 0
  const problems: string[] = []
  for (const file of docFiles(root)) {
    const markdown = readFileSync(join(root, file), 'utf8')
    quotes += codeBlocks(markdown).filter((b) => /^\S+\s+\S+\.\w+(#[\w-]+)?$/.test(b.info)).length
    problems.push(...staleQuotes(root, file, markdown))
  }
  assert.ok(quotes >= 10, `expected the tutorial and concept pages to quote code, found ${quotes} quotes`)
  assert.deepEqual(problems, [], problems.join('\n'))
})
