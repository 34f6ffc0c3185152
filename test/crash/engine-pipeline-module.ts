/** The crash test's pipeline as a module that declares it, for the threaded runner's workers. */
import { buildPipeline } from './engine-pipeline.ts'

export default buildPipeline()
