/**
 * Exits 0 when the Kafka broker at the given address answers a metadata request and lists
 * itself as a broker, 1 otherwise. Used by scripts/kafka.sh to wait for a broker it started.
 *
 *   node scripts/kafka-ready.ts [host:port]   (default: KAFKA_BROKERS or 127.0.0.1:9092)
 */
import { Admin } from '@platformatic/kafka'

const brokers = (process.argv[2] ?? process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',')
const admin = new Admin({
  clientId: 'sluice-kafka-ready',
  bootstrapBrokers: brokers,
  retries: 0,
  timeout: 5000,
})
let ready = false
try {
  const metadata = await admin.metadata({ topics: [], forceUpdate: true })
  ready = metadata.brokers.size > 0
  if (!ready) console.error('kafka-ready: the broker answered but lists no brokers yet')
} catch (error) {
  console.error(`kafka-ready: ${(error as Error).message}`)
} finally {
  await admin.close().catch(() => {})
}
process.exit(ready ? 0 : 1)
