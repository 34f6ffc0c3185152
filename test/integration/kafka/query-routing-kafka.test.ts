/**
 * Query routing on Kafka (test/unit/server/query-routing.test.ts does it on the embedded log):
 * two GroupRunners in one consumer group on the broker, each with its own HTTP server; either
 * server answers every key, asking the other worker for the keys it holds.
 */
import { test } from 'node:test'
import { openKafkaLog } from 'sluice/kafka'
import { checkQueryRouting } from '../../helpers/query-routing.ts'

const brokers = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',')

test('a worker answers a key another worker holds by asking that worker', async () => {
  await checkQueryRouting(await openKafkaLog({ brokers }), `${Date.now().toString(36)}${process.pid}`, 90_000)
})
