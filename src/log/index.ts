export * from './embedded/index.ts'
export { murmur2, Partitioner, partitionForKey } from './partitioner.ts'
export { validateTopicName } from './topic-name.ts'
export type * from './types.ts'
