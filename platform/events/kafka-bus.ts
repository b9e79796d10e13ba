/**
 * The event bus on Apache Kafka, with kafkajs (see docs/events.md, "Kafka client", for why this client).
 *
 * - Producers are idempotent with acks=all and one request in flight, so a batch is written once and in order;
 *   a send that fails (broker unreachable past the retries) rejects, and the next send starts a new producer
 *   session (a fresh producer id), so a retried batch never meets stale sequence numbers.
 * - Topics are created on first use (the brokers do not auto-create them), with DEFAULT_PARTITIONS unless
 *   ensureTopic() said otherwise.
 * - Consumers read with eachBatch and hand each fetched partition batch to the handler in slices of at most
 *   `maxBatchMessages` (one for start()), committing the offset after a slice once its handler resolved (no
 *   auto-commit; one commit per slice). A handler that throws pauses its partition, seeks back to the slice's first
 *   message and resumes after the delay: the slice comes again and nothing after it in the partition overtakes it.
 *   Partitions are handled concurrently, each in order.
 */
import kafkajs, { type Consumer, type IHeaders, Kafka, type KafkaMessage, logLevel, Partitioners } from "kafkajs";
import { type Lazy, lazy } from "../lazy.js";
import type { Logger } from "../logging.js";
import {
  type BatchHandler,
  type ConsumerOptions,
  DEFAULT_MAX_BATCH_MESSAGES,
  type EventBus,
  type EventConsumer,
  type EventProducer,
  type IncomingMessage,
  type OutgoingMessage,
  RetryLater,
  type TopicConfigs,
} from "./bus.js";
import type { KafkaSecurity } from "./kafka-config.js";

export const DEFAULT_PARTITIONS = 6;
const DEFAULT_RETRY_DELAY_MS = 500;

export interface KafkaBusOptions {
  readonly brokers: readonly string[];
  readonly clientId: string;
  readonly logger: Logger;
  /** Consumer session timeout: how long a member that stopped heart-beating keeps its partitions (default 6 s). */
  readonly sessionTimeoutMs?: number;
  /** TLS and SASL/SCRAM towards the brokers; plaintext without. */
  readonly security?: KafkaSecurity | undefined;
  /**
   * The topics' configurations: a topic the bus makes is created with its own, and an existing one is altered to it
   * (the whole set: a setting of that topic not listed goes back to the broker's default). An alteration the broker
   * refuses (no AlterConfigs permission) is logged and the topic used as it is.
   */
  readonly topicConfigs?: TopicConfigs | undefined;
}

const levels: Record<number, "warn" | "info" | "debug"> = {
  [logLevel.ERROR]: "warn", // kafkajs reports retried, recoverable conditions (a coordinator loading) as errors
  [logLevel.WARN]: "warn",
  [logLevel.INFO]: "debug",
  [logLevel.DEBUG]: "debug",
};

const headerText = (headers: IHeaders | undefined): Record<string, string> => {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    const first = Array.isArray(value) ? value[0] : value;
    if (first !== undefined) out[name] = first.toString();
  }
  return out;
};

export function createKafkaBus(options: KafkaBusOptions): EventBus {
  const log = options.logger.child({ component: "kafka" });
  const sasl = options.security?.sasl;
  const kafka = new Kafka({
    clientId: options.clientId,
    brokers: [...options.brokers],
    ...(options.security?.tls ? { ssl: options.security.tls.ca ? { ca: [options.security.tls.ca] } : true } : {}),
    ...(sasl
      ? {
          sasl:
            sasl.mechanism === "scram-sha-256"
              ? { ...sasl, mechanism: "scram-sha-256" }
              : { ...sasl, mechanism: "scram-sha-512" },
        }
      : {}),
    connectionTimeout: 3_000,
    requestTimeout: 10_000,
    retry: { initialRetryTime: 100, maxRetryTime: 2_000, retries: 8 },
    logLevel: logLevel.WARN,
    logCreator:
      () =>
      ({ level, log: entry }) => {
        const { message, ...fields } = entry;
        // Known and handled: producers start a new session after a failed send (see above), so the retries are
        // limited on purpose; a topic another client created first is what topicReady() wants anyway.
        const expected =
          message.startsWith("Limiting retries for the idempotent producer") ||
          fields.error === "Topic creation errors";
        log[expected ? "debug" : (levels[level] ?? "debug")](fields, `kafkajs: ${message}`);
      },
  });
  const partitionsOf = new Map<string, number>();
  const ready = new Map<string, Lazy<void>>();
  const closers = new Set<() => Promise<void>>();
  const admin = lazy(async () => {
    const client = kafka.admin();
    await client.connect();
    return client;
  });

  /**
   * Creates the topic once per bus (creating an existing topic is not an error), with its configuration if it has
   * one; an existing topic is altered to that configuration (a deployment that made it earlier gets it too).
   */
  const topicReady = (topic: string): Promise<void> => {
    let created = ready.get(topic);
    if (!created) {
      created = lazy(async () => {
        const config = Object.entries(options.topicConfigs?.[topic] ?? {}).map(([name, value]) => ({ name, value }));
        const client = await admin();
        const made = await client.createTopics({
          topics: [{ topic, numPartitions: partitionsOf.get(topic) ?? DEFAULT_PARTITIONS, configEntries: config }],
          waitForLeaders: true,
        });
        if (!made && config.length > 0) {
          // A principal not allowed to alter topic configurations still uses the topic as it is, and says so.
          await client
            .alterConfigs({
              validateOnly: false,
              // From the default export: Node's CommonJS interop does not see kafkajs's ConfigResourceTypes as named.
              resources: [{ type: kafkajs.ConfigResourceTypes.TOPIC, name: topic, configEntries: config }],
            })
            .catch((error: unknown) =>
              log.warn({ err: error, topic }, "the topic's configuration could not be applied; it is used as it is"),
            );
        }
      });
      ready.set(topic, created);
    }
    return created();
  };

  return {
    async ensureTopic(topic, partitions) {
      partitionsOf.set(topic, partitions);
      await topicReady(topic);
    },

    producer(): EventProducer {
      const session = lazy(async () => {
        const producer = kafka.producer({
          idempotent: true,
          maxInFlightRequests: 1,
          createPartitioner: Partitioners.DefaultPartitioner,
          retry: { initialRetryTime: 100, maxRetryTime: 2_000, retries: 8 },
        });
        await producer.connect();
        return producer;
      });
      const end = async () => {
        await (await session.reset()?.catch(() => undefined))?.disconnect().catch(() => undefined);
      };
      closers.add(end);
      return {
        async send(topic: string, messages: readonly OutgoingMessage[]) {
          await topicReady(topic);
          const producer = await session();
          try {
            await producer.send({
              topic,
              acks: -1,
              messages: messages.map((m) => ({ key: m.key, value: m.value, headers: { ...m.headers } })),
            });
          } catch (error) {
            await end(); // the next send starts a new producer session
            throw error;
          }
        },
        async close() {
          closers.delete(end);
          await end();
        },
      };
    },

    consumer(opts: ConsumerOptions): EventConsumer {
      let consumer: Consumer | undefined;
      const retryTimers = new Set<NodeJS.Timeout>();
      const stop = async () => {
        for (const timer of retryTimers) clearTimeout(timer);
        retryTimers.clear();
        const current = consumer;
        consumer = undefined;
        await current?.disconnect();
      };
      const join = async (handler: BatchHandler, maxBatch: number) => {
        if (consumer) throw new Error("this consumer is already started");
        await topicReady(opts.topic);
        const member = kafka.consumer({
          groupId: opts.groupId,
          sessionTimeout: options.sessionTimeoutMs ?? 6_000,
          heartbeatInterval: 1_000,
          rebalanceTimeout: 10_000,
          // A fetch with nothing to return waits this long: short, so a resumed partition or a new message is
          // seen quickly (the broker's default of 5 s would add up to that much latency to each).
          maxWaitTimeInMs: 250,
          retry: { initialRetryTime: 100, maxRetryTime: 2_000, retries: 20 },
        });
        consumer = member;
        closers.add(stop);
        await member.connect();
        await member.subscribe({ topic: opts.topic, fromBeginning: true });
        const toIncoming = (partition: number, message: KafkaMessage): IncomingMessage => ({
          topic: opts.topic,
          partition,
          offset: message.offset,
          key: message.key?.toString("utf8"),
          value: message.value ?? undefined,
          headers: headerText(message.headers),
        });
        await member.run({
          autoCommit: false,
          // Only what a handler finished is resolved (and so not fetched again): see the slices below.
          eachBatchAutoResolve: false,
          partitionsConsumedConcurrently: DEFAULT_PARTITIONS,
          eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
            const { topic, partition } = batch;
            for (let from = 0; from < batch.messages.length; from += maxBatch) {
              // Stopping, or a seek pending (a rebalance, a retry): what is left is fetched again.
              if (!isRunning() || isStale()) return;
              const slice = batch.messages.slice(from, from + maxBatch);
              const first = slice[0]?.offset ?? "0";
              const last = slice.at(-1)?.offset ?? first;
              try {
                await handler(slice.map((message) => toIncoming(partition, message)));
              } catch (error) {
                const delayMs = error instanceof RetryLater ? error.delayMs : DEFAULT_RETRY_DELAY_MS;
                if (!(error instanceof RetryLater)) {
                  log.warn({ err: error, partition, offset: first }, "a handler failed; retrying");
                }
                // Pause the partition and come back to this very slice after the delay.
                member.pause([{ topic, partitions: [partition] }]);
                member.seek({ topic, partition, offset: first });
                const timer = setTimeout(() => {
                  retryTimers.delete(timer);
                  member.resume([{ topic, partitions: [partition] }]);
                }, delayMs);
                retryTimers.add(timer);
                return;
              }
              resolveOffset(last);
              await member
                .commitOffsets([{ topic, partition, offset: String(BigInt(last) + 1n) }])
                // A commit refused during a rebalance: the partition's next owner handles the slice again.
                .catch((error: unknown) => log.debug({ err: error, partition }, "offset commit refused"));
              await heartbeat();
            }
          },
        });
      };
      return {
        async start(handler) {
          await join(async (messages) => {
            for (const message of messages) await handler(message);
          }, 1);
        },
        async startBatch(handler) {
          await join(handler, Math.max(1, opts.maxBatchMessages ?? DEFAULT_MAX_BATCH_MESSAGES));
        },
        async stop() {
          closers.delete(stop);
          await stop();
        },
      };
    },

    async close() {
      await Promise.all([...closers].map((close) => close().catch(() => undefined)));
      closers.clear();
      await (await admin.reset()?.catch(() => undefined))?.disconnect().catch(() => undefined);
    },
  };
}
