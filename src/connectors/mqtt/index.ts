export { mqttSink } from './sink.ts'
export type { MqttSinkOptions } from './sink-options.ts'
export { type MqttSourceOptions, mqtt } from './source.ts'
