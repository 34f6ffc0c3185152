export { KafkaLog, openKafkaLog } from './kafka-log.ts'
export type { KafkaGroupOptions, KafkaLogOptions, KafkaSaslOptions } from './options.ts'
