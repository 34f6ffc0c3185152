/**
 * Every relative link in README.md and docs/**.md names a file or directory that exists, and
 * every anchor a heading of the file it points into. The checker itself is tested on a
 * made-up page first, so a pass means something.
 */
import assert from 'node:assert/strict'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { tempDir } from '../../helpers/temp-dir.ts'
import { anchors, brokenLinks, docFiles, links, slug } from './markdown.ts'

const root = join(import.meta.dirname, '../../..')

test('headings get the anchors GitHub gives them', () => {
  assert.equal(slug('Metrics and `sluice status`'), 'metrics-and-sluice-status')
  assert.equal(slug('Tables and stream–table joins'), 'tables-and-streamtable-joins')
  assert.equal(
    slug('Exactly-once: what a commit holds (embedded log)'),
    'exactly-once-what-a-commit-holds-embedded-log',
  )
  assert.equal(slug('TLS, SASL and ACLs'), 'tls-sasl-and-acls')
  assert.equal(slug('The [log](x.md) on_disk'), 'the-log-on_disk')
  assert.deepEqual(
    [...anchors('# A\n\n## A\n\n```\n# not a heading\n```\n<a id="here"></a>\n')],
    ['a', 'a-1', 'here'],
  )
})

test('links are found in prose, not in code', () => {
  const md =
    'See [a](a.md) and `[b](b.md)`.\n\n```md\n[c](c.md)\n```\n\n[ref]: ref.md\n[web](https://example.com)\n'
  assert.deepEqual(
    links(md).map((l) => l.target),
    ['a.md', 'ref.md', 'https://example.com'],
  )
})

test('the checker reports a missing file and a missing anchor', () => {
  const dir = tempDir('sluice-docs-')
  mkdirSync(join(dir, 'docs'))
  writeFileSync(join(dir, 'README.md'), '# Top\n\n[ok](docs/a.md#a-heading) [here](#top)\n')
  writeFileSync(
    join(dir, 'docs/a.md'),
    '# A heading\n\n[gone](missing.md) [bad anchor](../README.md#nowhere) [dir](.)\n',
  )
  const problems = brokenLinks(dir, docFiles(dir))
  assert.equal(problems.length, 2, problems.join('\n'))
  assert.match(problems[0]!, /docs\/a\.md:3: missing\.md: no such file/)
  assert.match(problems[1]!, /docs\/a\.md:3: \.\.\/README\.md#nowhere: no heading with the anchor #nowhere/)
})

test('README.md and docs/**/*.md have no broken relative links', () => {
  const files = docFiles(root)
  assert.ok(files.includes('docs/tutorial.md') && files.length > 10, `found only ${files.join(', ')}`)
  const problems = brokenLinks(root, files)
  assert.deepEqual(problems, [], `broken links:\n${problems.join('\n')}`)
})
