import { SluiceError } from '../../errors.ts'
import type { ErrorContext } from './errors.ts'

/** How this client connects, as far as the messages about refused access need to know. */
export interface Identity {
  sasl?: { mechanism: string; username: string }
  tls: boolean
  /** With a client certificate, the broker names the principal after its subject. */
  clientCertificate: boolean
}

type Options = ErrorOptions | undefined

/**
 * SLUICE_AUTHENTICATION_FAILED for refused SASL: wrong credentials, a mechanism the broker does
 * not enable for the user, or SASL against a listener that does not speak it.
 */
export function authenticationFailed(detail: string, context: ErrorContext, options: Options): SluiceError {
  const at = `Kafka at ${context.brokers.join(',')}`
  const sasl = context.identity?.sasl
  if (!sasl) {
    return new SluiceError(
      'SLUICE_AUTHENTICATION_FAILED',
      `cannot ${context.what}: authentication failed: ${at} wants SASL (${detail}); give credentials ` +
        '(kafka://user:pass@host:port?sasl=scram-sha-512, or the sasl option of openKafkaLog)',
      options,
    )
  }
  return new SluiceError(
    'SLUICE_AUTHENTICATION_FAILED',
    `cannot ${context.what}: authentication failed: ${at} refused user "${sasl.username}" with SASL ` +
      `${sasl.mechanism} (${detail}). Check the username and password (kafka://user:pass@host:port, or ` +
      'SLUICE_KAFKA_USERNAME and SLUICE_KAFKA_PASSWORD), that the broker has this user for the mechanism ' +
      '(?sasl=plain, scram-sha-256 or scram-sha-512; SCRAM users are created with kafka-configs.sh ' +
      "--alter --add-config 'SCRAM-SHA-512=[password=…]' --entity-type users), and that the port is " +
      "the broker's SASL listener",
    options,
  )
}

/** SLUICE_AUTHENTICATION_FAILED for a TLS failure, with what to do about each kind. */
export function tlsFailed(
  error: Error & { code?: unknown },
  context: ErrorContext,
  options: Options,
): SluiceError {
  const code = typeof error.code === 'string' && !error.code.startsWith('PLT_KFK') ? `, ${error.code}` : ''
  const detail = `(${error.message.replace(/\.$/, '')}${code})`
  const at = context.brokers.join(',')
  let why: string
  if (/requires TLS/.test(error.message)) {
    why = `the broker at ${at} speaks TLS and this client does not ${detail}; connect with kafkas://host:port (the tls option of openKafkaLog)`
  } else if (/WRONG_VERSION_NUMBER|TLS handshake failed/.test(`${error.code} ${error.message}`)) {
    why = `${at} does not speak TLS ${detail}; use kafka:// without TLS, or the port of the broker's TLS listener`
  } else if (error.code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    why = `the broker's TLS certificate is not for the address connected to ${detail}; connect by a host name or IP address the certificate lists`
  } else if (error.code === 'CERT_HAS_EXPIRED' || error.code === 'CERT_NOT_YET_VALID') {
    why = `the TLS certificate of the broker at ${at} is not valid now ${detail}; renew it`
  } else if (/SELF_SIGNED|UNABLE_TO_|UNTRUSTED/.test(String(error.code))) {
    why =
      `the TLS certificate of the broker at ${at} is not signed by a CA this client trusts ${detail}; ` +
      'give the CA certificate that signed it: SLUICE_KAFKA_CA=ca.pem, or tls: { ca } in openKafkaLog'
  } else {
    why = `TLS with the broker at ${at} failed ${detail}; check the tls options (CA, client certificate)`
  }
  return new SluiceError('SLUICE_AUTHENTICATION_FAILED', `cannot ${context.what}: ${why}`, options)
}

/**
 * SLUICE_NOT_AUTHORIZED for Kafka's *_AUTHORIZATION_FAILED answers: who was denied what, and
 * the kafka-acls.sh command that grants it. Null when `ids` holds no authorization failure.
 */
export function notAuthorized(
  ids: ReadonlySet<string>,
  context: ErrorContext,
  options: Options,
): SluiceError | null {
  const identity = context.identity
  const principal = identity?.sasl
    ? `User:${identity.sasl.username}`
    : identity?.clientCertificate
      ? null
      : 'User:ANONYMOUS'
  const acl =
    `kafka-acls.sh --bootstrap-server ${context.brokers[0] ?? 'host:port'} --add ` +
    `--allow-principal ${principal ?? 'User:<your certificate subject>'}`
  let denied: string
  let grant: string
  let needs: string
  if (ids.has('TRANSACTIONAL_ID_AUTHORIZATION_FAILED')) {
    const id = context.transactionalId ?? '<id>'
    denied = `transactional id "${id}"`
    grant = `${acl} --operation Write --transactional-id ${id}`
    needs =
      'exactly-once workers need Write on their transactional ids (--resource-pattern-type prefixed grants a prefix)'
  } else if (ids.has('GROUP_AUTHORIZATION_FAILED')) {
    const group = context.group ?? '<group>'
    denied = `consumer group "${group}"`
    grant = `${acl} --operation Read --group ${group}`
    needs = 'members of a group, and commits of its offsets, need Read on it'
  } else if (ids.has('TOPIC_AUTHORIZATION_FAILED')) {
    const topic = context.topic ?? '<topic>'
    denied = `topic "${topic}"`
    grant = `${acl} --operation ${context.operation ?? 'Describe'} --topic ${topic}`
    needs =
      'Sluice needs Describe on every topic it uses, Read on those it reads, Write on those it writes, ' +
      'DescribeConfigs to describe them (sluice run does), Create and Delete to create and delete them'
  } else if (ids.has('CLUSTER_AUTHORIZATION_FAILED')) {
    // What Sluice meets this for: InitProducerId of a producer (all of Sluice's are idempotent),
    // which Kafka allows to a principal with Write on any topic (KIP-679).
    denied = 'the cluster'
    grant =
      context.topic === undefined
        ? `${acl} --operation IdempotentWrite --cluster`
        : `${acl} --operation Write --topic ${context.topic}`
    needs =
      'an idempotent producer (every Sluice producer is one) needs Write on a topic, or IdempotentWrite on the cluster'
  } else {
    return null
  }
  const id = [...ids].find((i) => i.endsWith('_AUTHORIZATION_FAILED'))
  return new SluiceError(
    'SLUICE_NOT_AUTHORIZED',
    `cannot ${context.what}: not authorized: Kafka at ${context.brokers.join(',')} denies ` +
      `${principal ?? "this client's certificate principal"} access to ${denied} (${id}). ` +
      `Grant an ACL, e.g. ${grant}; ${needs}`,
    options,
  )
}
