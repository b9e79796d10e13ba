{{/* The chart's name, and the prefix of every object's name: <release>-charter unless overridden. */}}
{{- define "charter.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "charter.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* A service's object name: (dict "root" $ "service" "users") */}}
{{- define "charter.serviceName" -}}
{{- printf "%s-%s" (include "charter.fullname" .root) .service | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The labels that select one service's pods; nothing else may change them. */}}
{{- define "charter.selectorLabels" -}}
app.kubernetes.io/name: {{ include "charter.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .service }}
{{- end }}

{{/* Every object's labels. */}}
{{- define "charter.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" }}
{{ include "charter.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: charter
{{- end }}

{{/* The labels of a service's pods: its podLabels, then the chart's (which a podLabel of the same key replaces). */}}
{{- define "charter.podLabels" -}}
{{- $values := index (.root.Values.entityServices | default dict) .service | default (index .root.Values .service) }}
{{- $labels := merge (deepCopy ($values.podLabels | default dict)) (include "charter.labels" . | fromYaml) }}
{{- toYaml $labels }}
{{- end }}

{{/* charter/<service>:<tag>, as npm run images tags it. */}}
{{- define "charter.image" -}}
{{- $tag := .root.Values.image.tag | default .root.Chart.AppVersion }}
{{- printf "%scharter/%s:%s" .root.Values.image.registry .service $tag }}
{{- end }}

{{/* The Secret holding the dependencies' addresses. */}}
{{- define "charter.dependenciesSecret" -}}
{{- .Values.dependencies.existingSecret | default (printf "%s-dependencies" (include "charter.fullname" .)) }}
{{- end }}

{{/* An environment variable from the dependencies' Secret: (dict "root" $ "name" "MONGO_URL" "key" "mongo-url") */}}
{{- define "charter.secretEnv" -}}
- name: {{ .name }}
  valueFrom:
    secretKeyRef:
      name: {{ include "charter.dependenciesSecret" .root }}
      key: {{ .key }}
{{- end }}

{{/* The pod's own name and IP, for the instance id and the address registered in etcd. */}}
{{- define "charter.podEnv" -}}
- name: POD_NAME
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
- name: POD_IP
  valueFrom:
    fieldRef:
      fieldPath: status.podIP
{{- end }}

{{/* The pod's security context: the images' numeric user, no root, the runtime's default seccomp profile. */}}
{{- define "charter.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{- define "charter.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/* Spread over nodes and zones; only pods of the same revision count (matchLabelKeys: the revision's label). */}}
{{- define "charter.topologySpread" -}}
- maxSkew: 1
  topologyKey: kubernetes.io/hostname
  whenUnsatisfiable: {{ .root.Values.topologySpread.nodeWhenUnsatisfiable }}
  labelSelector:
    matchLabels:
      {{- include "charter.selectorLabels" . | nindent 6 }}
  matchLabelKeys: [{{ .hashKey }}]
- maxSkew: 1
  topologyKey: topology.kubernetes.io/zone
  whenUnsatisfiable: {{ .root.Values.topologySpread.zoneWhenUnsatisfiable }}
  labelSelector:
    matchLabels:
      {{- include "charter.selectorLabels" . | nindent 6 }}
  matchLabelKeys: [{{ .hashKey }}]
{{- end }}

{{/* The users and audit probes: readiness and startup on the gRPC health service (the server's overall "" status,
     NOT_SERVING while it starts and while it drains), liveness on the gRPC port accepting connections, so that a
     dependency that is away takes the pod out of rotation without restarting it. Kubernetes' grpc probe dials in
     plaintext and presents no client certificate, so with tls.enabled (mutual TLS) readiness and startup run the
     images' own check instead, `node /app/healthcheck.js`, which asks the same health service on 127.0.0.1 and the
     port of the service's configuration, presenting the service's certificate. (dict "root" $ "service" "users"
     "port" 50051) */}}
{{- define "charter.grpcProbes" -}}
{{- $values := index (.root.Values.entityServices | default dict) .service | default (index .root.Values .service) }}
{{- $check := dict "grpc" (dict "port" .port) }}
{{- if .root.Values.tls.enabled }}
{{- $check = dict "exec" (dict "command" (list "node" "/app/healthcheck.js")) "timeoutSeconds" 5 }}
{{- end }}
readinessProbe:
  {{- with $values.readinessProbe }}
  {{- toYaml . | nindent 2 }}
  {{- else }}
  {{- toYaml $check | nindent 2 }}
  periodSeconds: {{ ternary 10 5 .root.Values.tls.enabled }}
  failureThreshold: 2
  {{- end }}
livenessProbe:
  {{- with $values.livenessProbe }}
  {{- toYaml . | nindent 2 }}
  {{- else }}
  tcpSocket:
    port: grpc
  periodSeconds: 10
  failureThreshold: 3
  {{- end }}
startupProbe:
  {{- with $values.startupProbe }}
  {{- toYaml . | nindent 2 }}
  {{- else }}
  {{- toYaml $check | nindent 2 }}
  periodSeconds: 2
  failureThreshold: 30
  {{- end }}
{{- end }}

{{/* The headless Service's full DNS name, for dns:/// targets. */}}
{{- define "charter.headlessHost" -}}
{{- printf "%s.%s.svc.%s" (include "charter.serviceName" .) .root.Release.Namespace .root.Values.discovery.clusterDomain }}
{{- end }}

{{/*
Security between services (docs/operations.md): the Secrets a service's pod mounts read-only, as files, and the
*_FILE variables that name them; no certificate, key or password is ever an environment value or a ConfigMap entry.
YAML with env (EnvVar list) and volumes (name, secretName, mountPath, items) for (dict "root" $ "service" "users").
*/}}
{{- define "charter.security" -}}
{{- $root := .root }}
{{- $service := .service }}
{{- $values := $root.Values }}
{{- $env := list }}
{{- $volumes := list }}
{{- $file := dict }}
{{- /* The component's certificate: mutual TLS on gRPC (server in users and audit, client in the gateway) and its
       client certificate at etcd. */}}
{{- $entity := hasKey ($values.entityServices | default dict) $service }}
{{- if $values.tls.enabled }}
{{- if not (index $values.tls.secrets $service) }}
{{- fail (printf "tls.secrets.%s is required with tls.enabled: the %s service's kubernetes.io/tls Secret (with ca.crt)" $service $service) }}
{{- end }}
{{- $items := list (dict "key" "tls.crt" "path" "tls.crt") (dict "key" "tls.key" "path" "tls.key") (dict "key" "ca.crt" "path" "ca.crt") }}
{{- $volumes = append $volumes (dict "name" "tls" "secretName" (index $values.tls.secrets $service) "mountPath" "/etc/charter/tls" "items" $items) }}
{{- $env = append $env (dict "name" "GRPC_TLS_CERT_FILE" "value" "/etc/charter/tls/tls.crt") }}
{{- $env = append $env (dict "name" "GRPC_TLS_KEY_FILE" "value" "/etc/charter/tls/tls.key") }}
{{- $env = append $env (dict "name" "GRPC_TLS_CA_FILE" "value" "/etc/charter/tls/ca.crt") }}
{{- if eq $values.discovery.mode "etcd" }}
{{- $env = append $env (dict "name" "ETCD_TLS_CERT_FILE" "value" "/etc/charter/tls/tls.crt") }}
{{- $env = append $env (dict "name" "ETCD_TLS_KEY_FILE" "value" "/etc/charter/tls/tls.key") }}
{{- if $values.tls.etcdCa.secretName }}
{{- $volumes = append $volumes (dict "name" "etcd-ca" "secretName" $values.tls.etcdCa.secretName "mountPath" "/etc/charter/etcd-ca" "items" (list (dict "key" $values.tls.etcdCa.key "path" "ca.crt"))) }}
{{- $env = append $env (dict "name" "ETCD_TLS_CA_FILE" "value" "/etc/charter/etcd-ca/ca.crt") }}
{{- else }}
{{- $env = append $env (dict "name" "ETCD_TLS_CA_FILE" "value" "/etc/charter/tls/ca.crt") }}
{{- end }}
{{- end }}
{{- end }}
{{- /* Redis: the users cache, and the gateway's request budget while it is kept in Redis. */}}
{{- if or (eq $service "users") (and (eq $service "gateway") $values.gateway.rateLimit.sharedInRedis) }}
{{- with $values.redis.auth.existingSecret }}
{{- $volumes = append $volumes (dict "name" "redis-auth" "secretName" . "mountPath" "/etc/charter/redis" "items" (list (dict "key" "password" "path" "password"))) }}
{{- $env = append $env (dict "name" "REDIS_USERNAME" "valueFrom" (dict "secretKeyRef" (dict "name" . "key" "username"))) }}
{{- $env = append $env (dict "name" "REDIS_PASSWORD_FILE" "value" "/etc/charter/redis/password") }}
{{- end }}
{{- with $values.redis.tlsCa.secretName }}
{{- $volumes = append $volumes (dict "name" "redis-ca" "secretName" . "mountPath" "/etc/charter/redis-ca" "items" (list (dict "key" $values.redis.tlsCa.key "path" "ca.crt"))) }}
{{- $env = append $env (dict "name" "REDIS_TLS_CA_FILE" "value" "/etc/charter/redis-ca/ca.crt") }}
{{- end }}
{{- end }}
{{- /* Kafka: the users outbox, the audit consumer and the entity services' events, each as its own SCRAM user. */}}
{{- if or (eq $service "users") (eq $service "audit") $entity }}
{{- if $values.kafka.tls.enabled }}
{{- $env = append $env (dict "name" "KAFKA_TLS" "value" "on") }}
{{- with $values.kafka.tls.ca.secretName }}
{{- $volumes = append $volumes (dict "name" "kafka-ca" "secretName" . "mountPath" "/etc/charter/kafka-ca" "items" (list (dict "key" $values.kafka.tls.ca.key "path" "ca.crt"))) }}
{{- $env = append $env (dict "name" "KAFKA_TLS_CA_FILE" "value" "/etc/charter/kafka-ca/ca.crt") }}
{{- end }}
{{- end }}
{{- with $values.kafka.sasl.existingSecret }}
{{- $volumes = append $volumes (dict "name" "kafka-auth" "secretName" . "mountPath" "/etc/charter/kafka" "items" (list (dict "key" (printf "%s-password" $service) "path" "password"))) }}
{{- $env = append $env (dict "name" "KAFKA_SASL_MECHANISM" "value" $values.kafka.sasl.mechanism) }}
{{- $env = append $env (dict "name" "KAFKA_SASL_USERNAME" "valueFrom" (dict "secretKeyRef" (dict "name" . "key" (printf "%s-username" $service)))) }}
{{- $env = append $env (dict "name" "KAFKA_SASL_PASSWORD_FILE" "value" "/etc/charter/kafka/password") }}
{{- end }}
{{- end }}
{{- toYaml (dict "env" $env "volumes" $volumes) }}
{{- end }}
