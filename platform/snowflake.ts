/**
 * 64-bit snowflake ids: 41 bits of milliseconds since EPOCH_MS, 10 bits of worker id,
 * 12 bits of sequence. Ids from one generator strictly increase, even when the clock
 * goes backwards: the generator keeps its own logical time, which never decreases,
 * and borrows the next millisecond when a millisecond's 4096 sequence numbers are used.
 */
export const EPOCH_MS = Date.UTC(2024, 0, 1);
export const MAX_WORKER_ID = 1023;
const SEQUENCE_BITS = 12n;
const WORKER_BITS = 10n;
const MAX_SEQUENCE = (1 << Number(SEQUENCE_BITS)) - 1;

export interface SnowflakeGenerator {
  next(): string;
  readonly workerId: number;
  /** The logical millisecond (since EPOCH_MS) of the last id issued, or the floor it started from. */
  lastMs(): number;
}

export interface SnowflakeOptions {
  /**
   * Issue only ids whose millisecond is greater than this one (since EPOCH_MS): a generator that replaces
   * another one of the same process (say, under a new worker id) passes the old one's lastMs(), so ids keep
   * increasing across the change whatever the two worker ids are.
   */
  readonly afterMs?: number;
}

export function createSnowflake(
  workerId: number,
  now: () => number = Date.now,
  opts: SnowflakeOptions = {},
): SnowflakeGenerator {
  if (!Number.isInteger(workerId) || workerId < 0 || workerId > MAX_WORKER_ID) {
    throw new RangeError(`worker id must be an integer from 0 to ${MAX_WORKER_ID}`);
  }
  // Starting "at the end" of afterMs makes the first id borrow the next millisecond if the clock is not past it.
  let lastMs = opts.afterMs ?? -1;
  let sequence = opts.afterMs === undefined ? 0 : MAX_SEQUENCE;
  return {
    workerId,
    lastMs: () => lastMs,
    next() {
      const ms = Math.max(now() - EPOCH_MS, 0);
      if (ms > lastMs) {
        lastMs = ms;
        sequence = 0;
      } else if (sequence < MAX_SEQUENCE) {
        sequence += 1;
      } else {
        lastMs += 1;
        sequence = 0;
      }
      const id =
        (BigInt(lastMs) << (WORKER_BITS + SEQUENCE_BITS)) | (BigInt(workerId) << SEQUENCE_BITS) | BigInt(sequence);
      return id.toString();
    },
  };
}
