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
{{- $values := index .root.Values .service }}
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

{{/* The users and audit probes: readiness and startup on the gRPC health service (Kubernetes' grpc probe, the
     server's overall "" status), liveness on the gRPC port accepting connections, so that a dependency that is away
     takes the pod out of rotation without restarting it. (dict "root" $ "service" "users" "port" 50051) */}}
{{- define "charter.grpcProbes" -}}
{{- $values := index .root.Values .service }}
readinessProbe:
  {{- with $values.readinessProbe }}
  {{- toYaml . | nindent 2 }}
  {{- else }}
  grpc:
    port: {{ .port }}
  periodSeconds: 5
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
  grpc:
    port: {{ .port }}
  periodSeconds: 2
  failureThreshold: 30
  {{- end }}
{{- end }}

{{/* The headless Service's full DNS name, for dns:/// targets. */}}
{{- define "charter.headlessHost" -}}
{{- printf "%s.%s.svc.%s" (include "charter.serviceName" .) .root.Release.Namespace .root.Values.discovery.clusterDomain }}
{{- end }}
