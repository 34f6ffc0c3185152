export { signWebhook, verifyWebhookSignature } from './signature.ts'
export { type WebhookOptions, type WebhookRecord, webhook } from './sink.ts'
