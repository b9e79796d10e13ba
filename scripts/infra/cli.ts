/**
 * `tsx scripts/infra/cli.ts ensure`: provisions Redis, etcd, Prometheus, mongo-java-server, Kafka, Schemathesis,
 * the Python code generators (openapi-python-client, grpcio-tools; `npm run generate` needs them), PySpark (the batch jobs' runtime), PyFlink with the Kafka connector (the streaming job's), Jaeger, OpenSearch, Traefik, rsyslog, dnsmasq, and the chart's tools:
 * kube-apiserver and kubectl, helm, kubeconform, Kubernetes' schemas and the Gateway API's CRDs, and the workflows'
 * linter: actionlint with shellcheck, and the Go code generators of `npm run generate`: ogen, protoc-gen-go and
 * protoc-gen-go-grpc (CI warm-up).
 * `tsx scripts/infra/cli.ts start redis|etcd|mongo|kafka|jaeger|opensearch`: runs one on free ports, prints its URL
 * (Kafka: the bootstrap host:port for KAFKA_BROKERS; Jaeger: the query API, then its OTLP endpoints), stops on Ctrl-C.
 * `tsx scripts/infra/cli.ts start traefik`: Traefik reading its routes from the etcd at ETCD_ENDPOINTS (required).
 * `tsx scripts/infra/cli.ts start rsyslog`: the log shipper into the OpenSearch at OPENSEARCH_URL (required), the
 * charter-logs index template put first; prints the syslog address for Docker's `--log-opt syslog-address=`.
 */

import { ensureActionlint, ensureShellcheck } from "./actionlint.js";
import { ensureDnsmasq } from "./dnsmasq.js";
import { ensureOgen, ensureProtocGenGo } from "./go-codegen.js";
import {
  ensureEtcd,
  ensureFlink,
  ensureJaeger,
  ensureKafka,
  ensureMongo,
  ensureOpenSearch,
  ensurePrometheus,
  ensureRedis,
  ensureRsyslog,
  ensureSchemathesis,
  ensureSpark,
  ensureTraefik,
  FLINK_KAFKA_CONNECTOR_VERSION,
  FLINK_VERSION,
  KAFKA_VERSION,
  MONGO_JAVA_SERVER_VERSION,
  putLogTemplate,
  type RunningJaeger,
  startEtcd,
  startJaeger,
  startKafka,
  startLogShipper,
  startMongo,
  startOpenSearch,
  startRedis,
  startTraefik,
} from "./index.js";
import { ensureGatewayApiCrds, ensureKubernetesSchemas } from "./kube-schemas.js";
import { ensureHelm, ensureKubeconform, ensureKubernetes } from "./kube-tools.js";
import { ensurePythonCodegen, OPENAPI_PYTHON_CLIENT_VERSION } from "./provision.js";

const etcdEndpoints = (process.env.ETCD_ENDPOINTS ?? "").split(",").filter((endpoint) => endpoint.trim() !== "");
const starters = {
  ...{ redis: startRedis, etcd: startEtcd, mongo: startMongo, kafka: startKafka },
  ...{ jaeger: startJaeger, opensearch: startOpenSearch },
  traefik: () => {
    if (etcdEndpoints.length === 0)
      throw new Error("start traefik needs ETCD_ENDPOINTS (the etcd it reads its routes from)");
    return startTraefik({ etcdEndpoints });
  },
  rsyslog: async () => {
    const opensearchUrl = process.env.OPENSEARCH_URL;
    if (!opensearchUrl) throw new Error("start rsyslog needs OPENSEARCH_URL (the OpenSearch it ships to)");
    await putLogTemplate(opensearchUrl);
    return startLogShipper({ opensearchUrl });
  },
} as const;
const [command, name] = process.argv.slice(2);

if (command === "ensure") {
  // One after the other: apt-get installs cannot run side by side.
  console.log(`redis-server: ${await ensureRedis()}`);
  console.log(`etcd: ${await ensureEtcd()}`);
  const { prometheus, promtool } = await ensurePrometheus();
  console.log(`prometheus: ${prometheus}, promtool: ${promtool}`);
  const { java, classpath } = await ensureMongo();
  console.log(`mongo-java-server ${MONGO_JAVA_SERVER_VERSION}: ${java} -cp ${classpath}`);
  const kafka = await ensureKafka();
  console.log(`kafka ${KAFKA_VERSION}: ${kafka.java} -cp ${kafka.classpath}`);
  const schemathesis = await ensureSchemathesis();
  console.log(`schemathesis ${schemathesis.version}: ${schemathesis.python} -m schemathesis.cli`);
  console.log(`openapi-python-client ${OPENAPI_PYTHON_CLIENT_VERSION}: ${(await ensurePythonCodegen()).python}`);
  const spark = await ensureSpark();
  console.log(`pyspark ${spark.version}: ${spark.python} (java: ${spark.java})`);
  console.log(`jaeger: ${await ensureJaeger()}`);
  console.log(`opensearch: ${(await ensureOpenSearch()).home}`);
  console.log(`traefik: ${await ensureTraefik()}`);
  console.log(`rsyslogd: ${await ensureRsyslog()}`);
  console.log(`dnsmasq: ${await ensureDnsmasq()}`);
  const kubernetes = await ensureKubernetes();
  console.log(`kube-apiserver: ${kubernetes.apiserver}, kubectl: ${kubernetes.kubectl}`);
  console.log(`helm: ${await ensureHelm()}`);
  console.log(`kubeconform: ${await ensureKubeconform()}`);
  console.log(`kubernetes schemas: ${await ensureKubernetesSchemas()}`);
  console.log(`gateway api crds: ${(await ensureGatewayApiCrds()).crds.join(", ")}`);
  console.log(`actionlint: ${await ensureActionlint()}, shellcheck: ${await ensureShellcheck()}`);
  const protocGenGo = await ensureProtocGenGo();
  console.log(`ogen: ${await ensureOgen()}, protoc-gen-go: ${protocGenGo.go}, protoc-gen-go-grpc: ${protocGenGo.grpc}`);
  const flink = await ensureFlink();
  console.log(
    `pyflink ${FLINK_VERSION}: ${flink.python}; kafka connector ${FLINK_KAFKA_CONNECTOR_VERSION}: ${flink.jars.join(", ")}`,
  );
} else if (command === "start" && name !== undefined && Object.hasOwn(starters, name)) {
  const server = await starters[name as keyof typeof starters]();
  console.log(server.url);
  const { otlpHttpUrl, otlpGrpcAddress } = server as Partial<RunningJaeger>;
  if (otlpHttpUrl) console.log(`OTLP/HTTP ${otlpHttpUrl}, OTLP/gRPC ${otlpGrpcAddress}`);
  console.error(`${server.name} on port ${server.port}, data in ${server.dataDir}; Ctrl-C stops it`);
  const stop = async () => {
    await server.stop();
    process.exit(0);
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
} else {
  console.error("usage: tsx scripts/infra/cli.ts ensure | start redis|etcd|mongo|kafka|jaeger|opensearch|traefik");
  process.exit(2);
}
