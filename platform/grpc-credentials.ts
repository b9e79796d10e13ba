/** The channel credentials of a gRPC client: mutual TLS with GRPC_TLS_* (see tls-config.ts), else plaintext. */
import { type ChannelCredentials, credentials } from "@grpc/grpc-js";
import type { MutualTls } from "./tls-config.js";

/** TLS that checks the server's certificate against `tls.ca` and presents `tls.cert`; plaintext without `tls`. */
export function grpcClientCredentials(tls: MutualTls | undefined): ChannelCredentials {
  return tls ? credentials.createSsl(tls.ca, tls.key, tls.cert) : credentials.createInsecure();
}
