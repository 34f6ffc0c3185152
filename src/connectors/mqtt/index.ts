export { type MqttSourceOptions, mqtt } from './source.ts'
