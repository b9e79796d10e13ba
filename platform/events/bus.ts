/**
 * The event bus port: what producers and consumers of events need from a log-based broker, so that services
 * run the same on Apache Kafka (kafka-bus.ts) and on the in-process bus used when no broker is configured
 * (memory-bus.ts).
 *
 * Semantics both adapters keep:
 * - A topic has partitions; a message goes to the partition its key hashes to, so one key's messages keep
 *   their order.
 * - Consumers in one group share a topic's partitions (competing consumers): each message is handled by one
 *   member of the group; a member that leaves or dies has its partitions handed to the others.
 * - Delivery is at least once. A message's offset is committed only after its handler resolved; a handler that
 *   throws has the message delivered again (its partition waits: later messages of it are not handled first).
 * - A batch handler (startBatch) gets a partition's messages in order, up to `maxBatchMessages` at a time, and the
 *   offset after the batch's last message is committed once it resolved (one commit per batch); one that throws has
 *   the whole batch delivered again, from its first message.
 */

/** Headers are text: the CloudEvents attributes (ce_*) and the like. */
export type MessageHeaders = Readonly<Record<string, string>>;

export interface OutgoingMessage {
  readonly key: string;
  /**
   * Text is sent as UTF-8; bytes as they are (a dead-letter copy keeps the original value byte for byte). `null` is a
   * tombstone: on a compacted topic it makes the broker drop the key's earlier messages (then itself, later).
   */
  readonly value: string | Buffer | null;
  readonly headers?: MessageHeaders;
}

export interface IncomingMessage {
  readonly topic: string;
  readonly partition: number;
  /** The message's offset in its partition, as a decimal string. */
  readonly offset: string;
  readonly key: string | undefined;
  /** The value as it was sent (UTF-8 text for JSON payloads); undefined for a tombstone. */
  readonly value: Buffer | undefined;
  readonly headers: MessageHeaders;
}

export interface EventProducer {
  /**
   * Sends messages to `topic` and resolves once the broker has them (Kafka: acknowledged by all in-sync
   * replicas, idempotent producer). Messages with one key are written in the order given.
   */
  send(topic: string, messages: readonly OutgoingMessage[]): Promise<void>;
  close(): Promise<void>;
}

/** What a consumer's handler does with a message it cannot take now. */
export class RetryLater extends Error {
  constructor(
    message: string,
    /** How long to pause the partition before the message is delivered again. */
    readonly delayMs = 500,
  ) {
    super(message);
    this.name = "RetryLater";
  }
}

export type MessageHandler = (message: IncomingMessage) => Promise<void>;

/** Messages of one partition, in offset order (never empty). */
export type BatchHandler = (messages: readonly IncomingMessage[]) => Promise<void>;

/** The most messages one call of a batch handler gets unless ConsumerOptions says otherwise. */
export const DEFAULT_MAX_BATCH_MESSAGES = 500;

export interface ConsumerOptions {
  readonly groupId: string;
  readonly topic: string;
  /** This member's id in logs and metrics. */
  readonly clientId?: string;
  /** The most messages one call of a batch handler gets (default DEFAULT_MAX_BATCH_MESSAGES); start() gets one. */
  readonly maxBatchMessages?: number;
}

export interface EventConsumer {
  /**
   * Joins the group and handles messages until stop(). The offset of a message is committed after `handler`
   * resolves. When it throws (RetryLater or any error), the partition pauses for the delay and the same
   * message is handled again; other partitions go on.
   */
  start(handler: MessageHandler): Promise<void>;
  /**
   * As start(), a batch at a time: `handler` gets what the partition has (up to `maxBatchMessages`, in order), and
   * the offset after the batch is committed once it resolves. When it throws, the partition pauses for the delay
   * and the same batch comes again from its first message (a handler that must not hold the others back for one
   * bad message deals with it itself, e.g. a dead-letter topic). Partitions go on independently.
   */
  startBatch(handler: BatchHandler): Promise<void>;
  /** Leaves the group (its partitions go to the other members) after the message in hand is done. */
  stop(): Promise<void>;
}

/** Topic configurations by topic (Kafka's topic-level settings, e.g. `retention.ms`, as text). */
export type TopicConfigs = Readonly<Record<string, Readonly<Record<string, string>>>>;

export interface EventBus {
  /**
   * Creates the topic if missing (partitions is a minimum; an existing topic keeps its partitions). A topic with a
   * configuration given to the bus gets it, also when it exists already.
   */
  ensureTopic(topic: string, partitions: number): Promise<void>;
  producer(): EventProducer;
  consumer(options: ConsumerOptions): EventConsumer;
  close(): Promise<void>;
}
