/**
 * The gRPC rows of `npm run bench`: a fixed number of concurrent unary UsersService/GetUser calls kept in flight
 * for the measured duration (each call is sent as soon as the one before it on its lane is answered), from one
 * channel of the generated grpc-js client in the benchmark's process — the same load on the users service (a
 * cache hit) and on a bare grpc-js server answering from a map (scripts/bench-bare-grpc.ts).
 */
import { credentials, Metadata, type ServiceError } from "@grpc/grpc-js";
import { type GetUserResponse, UsersServiceClient } from "../generated/proto/charter/users/v1/users.js";

export interface GrpcLoadResult {
  readonly callsPerS: number;
  /** Latency percentiles in milliseconds (performance.now, sub-millisecond). */
  readonly p50: number;
  readonly p99: number;
  readonly errors: number;
  readonly total: number;
}

const percentile = (sorted: readonly number[], p: number): number =>
  sorted.length === 0 ? 0 : (sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0);

async function loop(client: UsersServiceClient, id: string, metadata: Metadata, concurrency: number, seconds: number) {
  const latencies: number[] = [];
  let errors = 0;
  const started = performance.now();
  const end = started + seconds * 1000;
  const once = () =>
    new Promise<void>((resolve) => {
      const sent = performance.now();
      client.getUser({ id }, metadata, { deadline: Date.now() + 10_000 }, (error: ServiceError | null) => {
        if (error) errors += 1;
        else latencies.push(performance.now() - sent);
        resolve();
      });
    });
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) await once();
    }),
  );
  const elapsedS = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    callsPerS: latencies.length / elapsedS,
    p50: percentile(latencies, 0.5),
    p99: percentile(latencies, 0.99),
    errors,
    total: latencies.length + errors,
  };
}

/** Warm-up, then the measured run, on a fresh channel to `address` (host:port, plaintext). */
export async function loadGetUser(opts: {
  readonly address: string;
  readonly id: string;
  readonly concurrency: number;
  readonly warmupS: number;
  readonly durationS: number;
  /** The `authorization` metadata of every call ("Bearer <token>"); none for a server that checks no token. */
  readonly authorization?: string;
}): Promise<GrpcLoadResult> {
  const client = new UsersServiceClient(opts.address, credentials.createInsecure());
  const metadata = new Metadata();
  if (opts.authorization !== undefined) metadata.set("authorization", opts.authorization);
  try {
    const first = await new Promise<GetUserResponse>((resolve, reject) =>
      client.getUser({ id: opts.id }, metadata, (error, response) => (error ? reject(error) : resolve(response))),
    );
    if (first.user?.id !== opts.id) throw new Error(`GetUser ${opts.id} at ${opts.address} answered another user`);
    await loop(client, opts.id, metadata, opts.concurrency, opts.warmupS);
    return await loop(client, opts.id, metadata, opts.concurrency, opts.durationS);
  } finally {
    client.close();
  }
}
