{{/*
A service's workload: a Deployment, or for users and the entity services in DNS discovery a StatefulSet (each pod's
index is its snowflake worker id, which etcd would otherwise lease). Its values are .Values.<service>, or an entity
service's entityServices.<service>. (dict "root" $ "service" "users" "ports" (list …) "env" "<yaml>" "probes" "<yaml>"
"kind" "Deployment" "secretVolumes" (list …), the Secrets mounted read-only as files: charter.security)
*/}}
{{- define "charter.workload" -}}
{{- $root := .root }}
{{- $values := index ($root.Values.entityServices | default dict) .service | default (index $root.Values .service) }}
{{- $ctx := dict "root" $root "service" .service }}
apiVersion: apps/v1
kind: {{ .kind }}
metadata:
  name: {{ include "charter.serviceName" $ctx }}
  labels:
    {{- include "charter.labels" $ctx | nindent 4 }}
spec:
  {{- if not $values.autoscaling.enabled }}
  replicas: {{ $values.replicas }}
  {{- end }}
  {{- if eq .kind "StatefulSet" }}
  serviceName: {{ include "charter.serviceName" $ctx }}
  podManagementPolicy: Parallel
  {{- end }}
  revisionHistoryLimit: 5
  selector:
    matchLabels:
      {{- include "charter.selectorLabels" $ctx | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "charter.podLabels" $ctx | nindent 8 }}
      annotations:
        checksum/config: {{ include (print $root.Template.BasePath "/configmaps.yaml") $root | sha256sum }}
        {{- with $values.podAnnotations }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    spec:
      serviceAccountName: {{ include "charter.serviceName" $ctx }}
      automountServiceAccountToken: false
      enableServiceLinks: false
      {{- with $root.Values.imagePullSecrets }}
      imagePullSecrets:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      securityContext:
        {{- include "charter.podSecurityContext" $ctx | nindent 8 }}
      terminationGracePeriodSeconds: 30
      topologySpreadConstraints:
        {{- include "charter.topologySpread" (merge (dict "hashKey" (ternary "controller-revision-hash" "pod-template-hash" (eq .kind "StatefulSet"))) $ctx) | nindent 8 }}
      {{- with $values.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $values.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $values.affinity }}
      affinity:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      containers:
        - name: {{ .service }}
          image: {{ include "charter.image" $ctx }}
          imagePullPolicy: {{ $root.Values.image.pullPolicy }}
          ports:
            {{- toYaml .ports | nindent 12 }}
          envFrom:
            - configMapRef:
                name: {{ include "charter.serviceName" $ctx }}
          env:
            {{- .env | trim | nindent 12 }}
          {{- .probes | trim | nindent 10 }}
          {{- with .lifecycle }}
          lifecycle:
            {{- toYaml . | nindent 12 }}
          {{- end }}
          resources:
            {{- toYaml $values.resources | nindent 12 }}
          securityContext:
            {{- include "charter.containerSecurityContext" $ctx | nindent 12 }}
          volumeMounts:
            - name: tmp
              mountPath: /tmp
            {{- range .secretVolumes }}
            - name: {{ .name }}
              mountPath: {{ .mountPath }}
              readOnly: true
            {{- end }}
      volumes:
        - name: tmp
          emptyDir:
            sizeLimit: 64Mi
        {{- range .secretVolumes }}
        {{- /* Read by the images' user through the pod's fsGroup (10001): 0440 (288), never world-readable. */}}
        - name: {{ .name }}
          secret:
            secretName: {{ .secretName }}
            defaultMode: 288
            items:
              {{- toYaml .items | nindent 14 }}
        {{- end }}
{{- end }}
