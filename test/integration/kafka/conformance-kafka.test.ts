/**
 * The Log conformance suite on Apache Kafka. Needs a running broker:
 * `bash scripts/kafka.sh start` (127.0.0.1:9092; KAFKA_BROKERS overrides), then `npm run test:kafka`.
 */
import { openKafkaLog } from '../../../src/log/kafka/index.ts'
import { logConformance } from '../../conformance/log-conformance.ts'

const brokers = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',')

logConformance(
  'kafka',
  async () => {
    const log = await openKafkaLog({ brokers, clientId: 'sluice-conformance' })
    return { log, cleanup: () => log.close() }
  },
  // Kafka reports no per-partition byte or batch counts; its commit markers take offsets.
  { storageStats: false, transactionMarkers: true },
)
