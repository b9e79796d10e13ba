/**
 * The in-process event bus: the same port and semantics as the Kafka adapter (partitions by key, consumer groups
 * sharing partitions, offsets committed after the handler — once per batch with startBatch —, a failing message
 * or batch redelivered after a pause of its partition), with everything kept in this process's memory. It is what `npm start` uses when no Kafka broker is
 * configured, so that events flow with nothing installed; nothing survives the process.
 *
 * Two things follow from living in memory. Retention: what every group of a topic has handled is dropped (in
 * steps of `trimStep` messages), so a long-running process does not keep every event it ever sent; a group that
 * starts later begins at the oldest message kept, as a Kafka group does past the topic's retention. Leaving:
 * messages a group has not handled when its last member leaves would be lost with the process, so the last
 * member handles what was sent before it left (for up to `drainMs`) before it stops.
 */
import { createHash } from "node:crypto";
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
} from "./bus.js";

/** Partitions of a topic created by its first use rather than by ensureTopic(). */
export const DEFAULT_PARTITIONS = 6;
const DEFAULT_RETRY_DELAY_MS = 500;
const DEFAULT_TRIM_STEP = 1_000;
const DEFAULT_DRAIN_MS = 5_000;
const DRAIN_POLL_MS = 10;

interface Signal {
  readonly promise: Promise<void>;
  readonly resolve: () => void;
}

function signal(): Signal {
  let resolve: () => void = () => {};
  const promise = new Promise<void>((done) => {
    resolve = done;
  });
  return { promise, resolve };
}

interface Topic {
  /** The messages kept of each partition, from offset `base[partition]` on. */
  readonly partitions: IncomingMessage[][];
  readonly base: number[];
  /** Resolved (and replaced) whenever a message is appended or a member joins or leaves. */
  appended: Signal;
}

interface Member {
  readonly id: number;
  readonly group: Group;
  readonly handler: BatchHandler;
  /** The most messages one call of the handler gets. */
  readonly maxBatch: number;
  readonly owned: Set<number>;
  running: boolean;
  /** The loops handling this member's partitions; each ends when its partition is no longer owned. */
  readonly loops: Map<number, Promise<void>>;
  readonly wake: () => void;
}

interface Group {
  readonly id: string;
  readonly topic: string;
  /** Next offset to handle, per partition. */
  readonly committed: number[];
  readonly members: Member[];
}

/** Which partition a key goes to: a stable hash, the same in every process. */
export function partitionOf(key: string, partitions: number): number {
  return createHash("md5").update(key).digest().readUInt32BE(0) % partitions;
}

export interface MemoryBusOptions {
  readonly defaultPartitions?: number;
  /** Messages every group has handled are dropped once this many have piled up in a partition (default 1,000). */
  readonly trimStep?: number;
  /** How long the last member of a group may take to handle what was sent before it leaves (default 5 s). */
  readonly drainMs?: number;
}

export function createMemoryBus(options: MemoryBusOptions = {}): EventBus {
  const defaultPartitions = options.defaultPartitions ?? DEFAULT_PARTITIONS;
  const trimStep = options.trimStep ?? DEFAULT_TRIM_STEP;
  const drainMs = options.drainMs ?? DEFAULT_DRAIN_MS;
  const topics = new Map<string, Topic>();
  const groups = new Map<string, Group>();
  const consumers = new Set<EventConsumer>();
  let nextMemberId = 1;
  let closed = false;

  const topicOf = (name: string, partitions = defaultPartitions): Topic => {
    let topic = topics.get(name);
    if (!topic) {
      topic = {
        partitions: Array.from({ length: partitions }, () => []),
        base: new Array(partitions).fill(0),
        appended: signal(),
      };
      topics.set(name, topic);
    }
    return topic;
  };

  /** Hands the group's partitions out round-robin over its members, in the order they joined. */
  const rebalance = (group: Group): void => {
    const count = topicOf(group.topic).partitions.length;
    for (const member of group.members) member.owned.clear();
    if (group.members.length === 0) return;
    for (let partition = 0; partition < count; partition++) {
      group.members[partition % group.members.length]?.owned.add(partition);
    }
    for (const member of group.members) member.wake();
  };

  const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

  /** The offset after the last message of a partition. */
  const endOf = (topic: Topic, partition: number): number =>
    (topic.base[partition] ?? 0) + (topic.partitions[partition]?.length ?? 0);

  /** Drops the messages of a partition that every group of the topic has handled, once `trimStep` have piled up. */
  const trim = (name: string, topic: Topic, partition: number): void => {
    let handled = Number.POSITIVE_INFINITY;
    for (const group of groups.values()) {
      if (group.topic === name) handled = Math.min(handled, group.committed[partition] ?? 0);
    }
    const base = topic.base[partition] ?? 0;
    const drop = handled - base;
    if (!Number.isFinite(drop) || drop < trimStep) return;
    topic.partitions[partition]?.splice(0, drop);
    topic.base[partition] = base + drop;
  };

  /** Handles one partition for a member, a batch at a time, until the partition is taken from it or it stops. */
  async function partitionLoop(member: Member, partition: number): Promise<void> {
    const { group } = member;
    const topic = topicOf(group.topic);
    const owns = () => member.running && member.owned.has(partition);
    while (owns()) {
      const offset = group.committed[partition] ?? 0;
      const start = offset - (topic.base[partition] ?? 0);
      const batch = topic.partitions[partition]?.slice(start, start + member.maxBatch) ?? [];
      if (batch.length === 0) {
        await topic.appended.promise;
        continue;
      }
      try {
        await member.handler(batch);
        // A member that lost the partition meanwhile does not commit: its new owner handles the batch again.
        // One that is stopping still owns it until its loops end, so the batch in hand is committed.
        if (member.owned.has(partition) && (group.committed[partition] ?? 0) === offset) {
          group.committed[partition] = offset + batch.length;
          trim(group.topic, topic, partition);
        }
      } catch (error) {
        await sleep(error instanceof RetryLater ? error.delayMs : DEFAULT_RETRY_DELAY_MS);
      }
    }
  }

  /** Waits until the group has handled every message sent so far, or `drainMs` have passed. */
  async function drain(group: Group): Promise<void> {
    const topic = topicOf(group.topic);
    const behind = () => group.committed.some((next, p) => next < endOf(topic, p));
    const deadline = Date.now() + drainMs;
    while (behind() && Date.now() < deadline) await sleep(DRAIN_POLL_MS);
  }

  /** Starts a loop for every partition the member owns and has no loop for. */
  const runOwned = (member: Member): void => {
    for (const partition of member.owned) {
      if (member.loops.has(partition)) continue;
      const loop = partitionLoop(member, partition).finally(() => {
        member.loops.delete(partition);
        // Reassigned back while it was finishing: start again.
        if (member.running && member.owned.has(partition)) runOwned(member);
      });
      member.loops.set(partition, loop);
    }
  };

  /** Wakes every loop waiting for new messages (loops that lost their partition then end). */
  const wakeAll = (topic: Topic): void => {
    const previous = topic.appended;
    topic.appended = signal();
    previous.resolve();
  };

  return {
    async ensureTopic(name, partitions) {
      topicOf(name, partitions);
    },

    producer(): EventProducer {
      let open = true;
      return {
        async send(name: string, messages: readonly OutgoingMessage[]) {
          if (!open || closed) throw new Error("the producer is closed");
          const topic = topicOf(name);
          for (const message of messages) {
            const partition = partitionOf(message.key, topic.partitions.length);
            const log = topic.partitions[partition] as IncomingMessage[];
            log.push({
              topic: name,
              partition,
              offset: String(endOf(topic, partition)),
              key: message.key,
              value:
                message.value === null
                  ? undefined
                  : typeof message.value === "string"
                    ? Buffer.from(message.value, "utf8")
                    : Buffer.from(message.value),
              headers: { ...message.headers },
            });
          }
          wakeAll(topic);
        },
        async close() {
          open = false;
        },
      };
    },

    consumer(opts: ConsumerOptions): EventConsumer {
      const key = `${opts.groupId}\u0000${opts.topic}`;
      let member: Member | undefined;
      const join = async (handler: BatchHandler, maxBatch: number) => {
        if (closed) throw new Error("the bus is closed");
        if (member) throw new Error("this consumer is already started");
        let group = groups.get(key);
        if (!group) {
          // A new group starts at the oldest message kept.
          const topic = topicOf(opts.topic);
          group = { id: opts.groupId, topic: opts.topic, committed: [...topic.base], members: [] };
          groups.set(key, group);
        }
        const joined: Member = {
          id: nextMemberId++,
          group,
          handler,
          maxBatch,
          owned: new Set(),
          running: true,
          loops: new Map(),
          wake: () => runOwned(joined),
        };
        member = joined;
        group.members.push(joined);
        rebalance(group);
        wakeAll(topicOf(opts.topic));
      };
      const consumer: EventConsumer = {
        async start(handler) {
          await join(async (messages) => {
            for (const message of messages) await handler(message);
          }, 1);
        },
        async startBatch(handler) {
          await join(handler, Math.max(1, opts.maxBatchMessages ?? DEFAULT_MAX_BATCH_MESSAGES));
        },
        async stop() {
          const leaving = member;
          if (!leaving?.running) return;
          const { group } = leaving;
          if (group.members.length === 1 && !closed) await drain(group);
          leaving.running = false;
          group.members.splice(group.members.indexOf(leaving), 1);
          wakeAll(topicOf(group.topic));
          await Promise.all(leaving.loops.values()); // the message in hand is finished first
          rebalance(group);
          consumers.delete(consumer);
        },
      };
      consumers.add(consumer);
      return consumer;
    },

    async close() {
      closed = true;
      await Promise.all([...consumers].map((consumer) => consumer.stop()));
    },
  };
}
