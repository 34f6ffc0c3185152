/**
 * The demos `sluice demo <name>` knows, each loaded only when asked for: a demo pulls in its
 * example's code and schemas (zod), which no other command needs.
 */
import type { DemoSpec } from './spec.ts'

// biome-ignore lint/suspicious/noExplicitAny: each demo has its own topic types
type Load = () => Promise<DemoSpec<any>>

export const DEMOS: Record<string, Load> = {
  fraud: async () => (await import('./fraud.ts')).fraudDemo,
  iot: async () => (await import('./iot.ts')).iotDemo,
  ecommerce: async () => (await import('./ecommerce.ts')).ecommerceDemo,
}
