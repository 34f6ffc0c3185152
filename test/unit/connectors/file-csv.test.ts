/**
 * The CSV parser (record boundaries in bytes, fields in text) and csvFile(): headers, types,
 * quoted fields across lines, CRLF, bad rows dead-lettered with line numbers, and a restart.
 */
import assert from 'node:assert/strict'
import { appendFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { connect } from '../../../src/connectors/connect.ts'
import { csvRecordEnd, parseCsvRecord } from '../../../src/connectors/file/csv.ts'
import { csvFile } from '../../../src/connectors/file/index.ts'
import { ConnectorRunner } from '../../../src/connectors/runner.ts'
import { topic } from '../../../src/dsl/topic.ts'
import { type EmbeddedLog, openEmbeddedLog } from '../../../src/log/index.ts'
import { readTopic, readValues, waitFor } from '../../helpers/connector-log.ts'
import { tempDir } from '../../helpers/temp-dir.ts'

/** Splits a whole text into records the way the file source does. */
function records(text: string, delimiter = ','): (string[] | { error: string })[] {
  const end = csvRecordEnd(delimiter)
  let buf = Buffer.from(text)
  const out: (string[] | { error: string })[] = []
  while (buf.length > 0) {
    const at = end(buf)
    const n = at < 0 ? buf.length : at
    const record = buf
      .subarray(0, n)
      .toString()
      .replace(/\r?\n$/, '')
    out.push(parseCsvRecord(record, delimiter))
    buf = buf.subarray(n)
  }
  return out
}

describe('CSV parser', () => {
  test('plain fields, empty fields, a trailing delimiter', () => {
    assert.deepEqual(records('a,b,c\n1,,3\n,,\nx,y,\n'), [
      ['a', 'b', 'c'],
      ['1', '', '3'],
      ['', '', ''],
      ['x', 'y', ''],
    ])
  })

  test('quoted fields hold delimiters, doubled quotes and newlines (LF and CRLF)', () => {
    assert.deepEqual(records('"a,b","say ""hi""","line1\nline2"\r\n"","x\r\ny",z\r\n'), [
      ['a,b', 'say "hi"', 'line1\nline2'],
      ['', 'x\r\ny', 'z'],
    ])
  })

  test('a quote inside an unquoted field is kept as text', () => {
    assert.deepEqual(records('5" pipe,ok\n'), [['5" pipe', 'ok']])
  })

  test('another delimiter, and a multi-byte character next to it', () => {
    assert.deepEqual(records('é;"ü;ö";\tx;ß\n', ';'), [['é', 'ü;ö', '\tx', 'ß']])
    assert.deepEqual(records('a\tb\t"c\td"\n', '\t'), [['a', 'b', 'c\td']])
  })

  test('a quote that never closes, and text after a closing quote, are errors that say what to fix', () => {
    const [open] = records('a,"never closed\n')
    assert.match((open as { error: string }).error, /field 2 opens a quote that never closes/)
    const [after] = records('"a"b,c\n')
    assert.match((after as { error: string }).error, /field 1 has text after its closing quote/)
  })

  test('a record is incomplete until its newline outside quotes is there', () => {
    const end = csvRecordEnd(',')
    assert.equal(end(Buffer.from('a,"b\nc')), -1)
    assert.equal(end(Buffer.from('a,"b\nc"')), -1)
    assert.equal(end(Buffer.from('a,"b\nc"\nnext')), 8)
  })
})

describe('csvFile', () => {
  const dataDir = tempDir()
  const files = tempDir()
  let log: EmbeddedLog

  before(async () => {
    log = await openEmbeddedLog({ dataDir })
  })
  after(() => log.close())

  test('a header names the columns; types convert them; quoted fields span lines; BOM and CRLF', async () => {
    const path = join(files, 'prices.csv')
    writeFileSync(
      path,
      '\uFEFFsku,price,active,note\r\n' +
        'a1,9.5,true,plain\r\n' +
        'a2,,FALSE,"two\r\nlines, with ""quotes"""\r\n' +
        '\r\n' +
        'a3,12,false,\r\n',
    )
    const c = connect('csv-prices', {
      from: csvFile({ path, types: { price: 'number', active: 'boolean' } }),
      to: topic('csv-prices'),
    })
    const runner = new ConnectorRunner(log, [c])
    runner.start()
    await runner.whenDone()
    assert.deepEqual(await readValues(log, 'csv-prices'), [
      { sku: 'a1', price: 9.5, active: true, note: 'plain' },
      { sku: 'a2', price: null, active: false, note: 'two\r\nlines, with "quotes"' },
      { sku: 'a3', price: 12, active: false, note: '' },
    ])
  })

  test('given column names, no header row, a tab delimiter and a parse function', async () => {
    const path = join(files, 'points.tsv')
    writeFileSync(path, '1\t2\n3\t4\n')
    const c = connect('csv-points', {
      from: csvFile({
        path,
        header: ['x', 'y'],
        delimiter: '\t',
        types: { x: 'number', y: 'number' },
        parse: (row) => {
          const { x, y } = row as { x: number; y: number }
          return { sum: x + y }
        },
      }),
      to: topic('csv-points'),
    })
    const runner = new ConnectorRunner(log, [c])
    runner.start()
    await runner.whenDone()
    assert.deepEqual(await readValues(log, 'csv-points'), [{ sum: 3 }, { sum: 7 }])
  })

  test('header: false gives arrays of fields', async () => {
    const path = join(files, 'raw.csv')
    writeFileSync(path, 'a,b\nc,d\n')
    const c = connect('csv-raw', { from: csvFile({ path, header: false }), to: topic('csv-raw') })
    const runner = new ConnectorRunner(log, [c])
    runner.start()
    await runner.whenDone()
    assert.deepEqual(await readValues(log, 'csv-raw'), [
      ['a', 'b'],
      ['c', 'd'],
    ])
  })

  test('bad rows go to the dead-letter topic with the line they start on, and reading goes on', async () => {
    const path = join(files, 'bad.csv')
    writeFileSync(
      path,
      [
        'id,note', // line 1
        '1,ten', // 2
        '2,"multi', // 3: a quoted field over two lines, valid
        'line"', // 4
        '3,10,extra', // 5: too many fields
        'four,abc', // 6: id is not a number
        '"5"x,1', // 7: text after a closing quote
        '6,sixty', // 8
        '',
      ].join('\n'),
    )
    const c = connect('csv-bad', { from: csvFile({ path, types: { id: 'number' } }), to: topic('csv-bad') })
    const runner = new ConnectorRunner(log, [c])
    runner.start()
    await runner.whenDone()
    assert.deepEqual(await readValues(log, 'csv-bad'), [
      { id: 1, note: 'ten' },
      { id: 2, note: 'multi\nline' },
      { id: 6, note: 'sixty' },
    ])
    const rejected = (await readTopic(log, 'csv-bad-dlq')).map((r) => {
      const error = r.headers['sluice-error']!
      const where = error.slice(0, error.indexOf(': '))
      const what = error.slice(where.length + 2).split(';')[0]!
      return [where, what, Buffer.from(r.value!).toString()]
    })
    assert.deepEqual(rejected, [
      [`${path}:5`, 'expected 2 fields (id, note), found 3', '3,10,extra'],
      [`${path}:6`, 'column "id": "four" is not a number', 'four,abc'],
      [`${path}:7`, 'field 1 has text after its closing quote', '"5"x,1'],
    ])
  })

  test('a value that does not fit its column type is dead-lettered with the column named', async () => {
    const path = join(files, 'typed.csv')
    writeFileSync(path, 'id,amount\n1,10\n2,abc\n')
    const c = connect('csv-typed', {
      from: csvFile({ path, types: { amount: 'number' } }),
      to: topic('csv-typed'),
    })
    const runner = new ConnectorRunner(log, [c])
    runner.start()
    await runner.whenDone()
    assert.deepEqual(await readValues(log, 'csv-typed'), [{ id: '1', amount: 10 }])
    const [dead] = await readTopic(log, 'csv-typed-dlq')
    assert.equal(dead!.headers['sluice-error'], `${path}:3: column "amount": "abc" is not a number`)
  })

  test('following: a quoted field left open waits for the rest; a restart keeps the header', async () => {
    const path = join(files, 'follow.csv')
    writeFileSync(path, 'id,text\n1,one\n2,"still')
    const source = () => csvFile({ path, follow: true, pollMs: 20 })
    const run1 = new ConnectorRunner(log, [
      connect('csv-follow', { from: source(), to: topic('csv-follow') }),
    ])
    run1.start()
    await waitFor('the first row', async () => (await readValues(log, 'csv-follow')).length === 1)
    appendFileSync(path, '\ngoing')
    await new Promise((r) => setTimeout(r, 200))
    assert.equal((await readValues(log, 'csv-follow')).length, 1, 'an open quote is not a record')
    await run1.stop()

    appendFileSync(path, '"\n3,three\n')
    const run2 = new ConnectorRunner(log, [
      { kind: 'source', name: 'csv-follow', source: source(), topic: topic('csv-follow') },
    ])
    run2.start()
    try {
      await waitFor('rows 2 and 3', async () => (await readValues(log, 'csv-follow')).length >= 3)
      await new Promise((r) => setTimeout(r, 100))
      assert.deepEqual(await readValues(log, 'csv-follow'), [
        { id: '1', text: 'one' },
        { id: '2', text: 'still\ngoing' },
        { id: '3', text: 'three' },
      ])
    } finally {
      await run2.stop()
    }
  })

  test('a delimiter that cannot work is refused up front', () => {
    assert.throws(() => csvFile({ path: 'x.csv', delimiter: '"' }), /delimiter must be one ASCII character/)
    assert.throws(() => csvFile({ path: 'x.csv', delimiter: '::' }), /delimiter must be one ASCII character/)
  })
})
