{{/* sextant.name: the chart name, or nameOverride. */}}
{{- define "sextant.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* sextant.fullname: the prefix of every object name (release name, plus the chart name unless the release already contains it). */}}
{{- define "sextant.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* sextant.chart: chart name and version for the helm.sh/chart label. */}}
{{- define "sextant.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* sextant.selectorLabels: the minimal, stable labels that select one component's pods; call with (dict "ctx" $ "component" "<name>"). */}}
{{- define "sextant.selectorLabels" -}}
app.kubernetes.io/name: {{ include "sextant.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* sextant.labels: the standard labels of one component's objects; call with (dict "ctx" $ "component" "<name>"). */}}
{{- define "sextant.labels" -}}
{{ include "sextant.selectorLabels" . }}
app.kubernetes.io/part-of: sextant
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
helm.sh/chart: {{ include "sextant.chart" .ctx }}
{{- with .ctx.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* sextant.image: the image reference, by digest when one is given, else by tag (default appVersion). */}}
{{- define "sextant.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/* sextant.collector.enabled: "true" when a source of the node collector is on (logs, metrics, journald, the audit log file); enrichment then runs too. */}}
{{- define "sextant.collector.enabled" -}}
{{- if or .Values.logs.enabled .Values.metrics.enabled .Values.journald.enabled .Values.audit.logFile.enabled -}}true{{- end -}}
{{- end -}}

{{/* sextant.enrichment.enabled: "true" when enrichment runs: for the node collector, or for the audit webhook alone. */}}
{{- define "sextant.enrichment.enabled" -}}
{{- if or (include "sextant.collector.enabled" .) .Values.audit.webhook.enabled -}}true{{- end -}}
{{- end -}}

{{/* sextant.checkpoints.enabled: "true" when a collector source keeps read positions in the checkpoint hostPath (log offsets, the journal cursor, audit file offsets). */}}
{{- define "sextant.checkpoints.enabled" -}}
{{- if or .Values.logs.enabled .Values.journald.enabled .Values.audit.logFile.enabled -}}true{{- end -}}
{{- end -}}

{{/* sextant.auditLog.dir: the directory of audit.logFile.path, mounted read-only at the same path (rotated files land beside the file). */}}
{{- define "sextant.auditLog.dir" -}}
{{- dir .Values.audit.logFile.path -}}
{{- end -}}

{{/* sextant.mtls.dir: where the mTLS Secret (tls.crt, tls.key, ca.crt) is mounted in the collectors and enrichment. */}}
{{- define "sextant.mtls.dir" -}}
/etc/sextant/mtls
{{- end -}}

{{/* sextant.enrichment.scheme: HTTP or HTTPS, the scheme of enrichment's port 24321 (HTTPS with mtlsSecret). */}}
{{- define "sextant.enrichment.scheme" -}}
{{- ternary "HTTPS" "HTTP" (ne .Values.mtlsSecret "") -}}
{{- end -}}

{{/* sextant.hostMetrics.enabled: "true" when host metrics (/proc, /sys) are collected. */}}
{{- define "sextant.hostMetrics.enabled" -}}
{{- if and .Values.metrics.enabled .Values.metrics.host -}}true{{- end -}}
{{- end -}}

{{/* sextant.kubeletMetrics.enabled: "true" when kubelet metrics are collected (the only case where the collector gets a token). */}}
{{- define "sextant.kubeletMetrics.enabled" -}}
{{- if and .Values.metrics.enabled .Values.metrics.kubelet -}}true{{- end -}}
{{- end -}}

{{/* sextant.collector.name: name of the node collector's objects. */}}
{{- define "sextant.collector.name" -}}
{{- printf "%s-node-collector" (include "sextant.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* sextant.collector.namespace: the namespace of the node collector's objects (collector.namespace, else the release namespace). */}}
{{- define "sextant.collector.namespace" -}}
{{- default .Release.Namespace .Values.collector.namespace -}}
{{- end -}}

{{/* sextant.enrichment.name: name of the enrichment objects. */}}
{{- define "sextant.enrichment.name" -}}
{{- printf "%s-enrichment" (include "sextant.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* sextant.enrichment.headless: name of the headless Service whose DNS name the collectors resolve. */}}
{{- define "sextant.enrichment.headless" -}}
{{- printf "%s-enrichment-headless" (include "sextant.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* sextant.traceReceiver.name: name of the trace receiver's objects. */}}
{{- define "sextant.traceReceiver.name" -}}
{{- printf "%s-trace-receiver" (include "sextant.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* sextant.collector.podSecurityContext: the collector preset's pod securityContext (nonroot: plus the journal's group with journald), overridden key by key by collector.podSecurityContext. */}}
{{- define "sextant.collector.podSecurityContext" -}}
{{- $preset := dict -}}
{{- if eq .Values.collector.securityPreset "root" -}}
{{- $preset = dict "runAsUser" 0 "runAsGroup" 0 "runAsNonRoot" false "seccompProfile" (dict "type" "RuntimeDefault") -}}
{{- else -}}
{{- $n := .Values.collector.nonroot -}}
{{- $preset = dict "runAsUser" $n.runAsUser "runAsGroup" $n.runAsGroup "runAsNonRoot" true "seccompProfile" (dict "type" "RuntimeDefault") -}}
{{- $groups := $n.supplementalGroups | default list -}}
{{- if and .Values.journald.enabled (not (has $n.journalGroup $groups)) -}}
{{- $groups = append $groups $n.journalGroup -}}
{{- end -}}
{{- with $groups }}{{- $_ := set $preset "supplementalGroups" . -}}{{- end -}}
{{- end -}}
{{- toYaml (mergeOverwrite $preset (deepCopy .Values.collector.podSecurityContext)) -}}
{{- end -}}

{{/* sextant.containerSecurityContext: the hardened container securityContext every preset shares, overridden key by key by the given values; call with (dict "override" <map>). */}}
{{- define "sextant.containerSecurityContext" -}}
{{- $preset := dict "allowPrivilegeEscalation" false "privileged" false "readOnlyRootFilesystem" true "capabilities" (dict "drop" (list "ALL")) "seccompProfile" (dict "type" "RuntimeDefault") -}}
{{- toYaml (mergeOverwrite $preset (deepCopy .override)) -}}
{{- end -}}

{{/* sextant.restricted.podSecurityContext: the `restricted` preset (uid/gid 65532, non-root, RuntimeDefault seccomp), overridden key by key by the given values; call with (dict "override" <map>). */}}
{{- define "sextant.restricted.podSecurityContext" -}}
{{- $preset := dict "runAsUser" 65532 "runAsGroup" 65532 "fsGroup" 65532 "runAsNonRoot" true "seccompProfile" (dict "type" "RuntimeDefault") -}}
{{- toYaml (mergeOverwrite $preset (deepCopy .override)) -}}
{{- end -}}

{{/* sextant.restricted.containerSecurityContext: the container securityContext of the `restricted` preset, overridden by the given values; call with (dict "override" <map>). */}}
{{- define "sextant.restricted.containerSecurityContext" -}}
{{- $preset := dict "allowPrivilegeEscalation" false "privileged" false "readOnlyRootFilesystem" true "runAsNonRoot" true "capabilities" (dict "drop" (list "ALL")) "seccompProfile" (dict "type" "RuntimeDefault") -}}
{{- toYaml (mergeOverwrite $preset (deepCopy .override)) -}}
{{- end -}}

{{/* sextant.ca.env: the NODE_EXTRA_CA_CERTS variable when customCASecret is set. */}}
{{- define "sextant.ca.env" -}}
{{- if .Values.customCASecret }}
- name: NODE_EXTRA_CA_CERTS
  value: /etc/sextant/ca/ca.crt
{{- end }}
{{- end -}}

{{/* sextant.ca.volumeMount: the read-only mount of the custom CA Secret when customCASecret is set. */}}
{{- define "sextant.ca.volumeMount" -}}
{{- if .Values.customCASecret }}
- name: custom-ca
  mountPath: /etc/sextant/ca
  readOnly: true
{{- end }}
{{- end -}}

{{/* sextant.ca.volume: the custom CA Secret volume (key ca.crt) when customCASecret is set. */}}
{{- define "sextant.ca.volume" -}}
{{- if .Values.customCASecret }}
- name: custom-ca
  secret:
    secretName: {{ .Values.customCASecret }}
    defaultMode: 0444
    items:
      - key: ca.crt
        path: ca.crt
{{- end }}
{{- end -}}

{{/* sextant.mtls.volumeMount: the read-only mount of the mTLS Secret when mtlsSecret is set. */}}
{{- define "sextant.mtls.volumeMount" -}}
{{- if .Values.mtlsSecret }}
- name: mtls
  mountPath: {{ include "sextant.mtls.dir" . }}
  readOnly: true
{{- end }}
{{- end -}}

{{/* sextant.mtls.volume: the mTLS Secret volume (tls.crt, tls.key, ca.crt) when mtlsSecret is set. */}}
{{- define "sextant.mtls.volume" -}}
{{- if .Values.mtlsSecret }}
- name: mtls
  secret:
    secretName: {{ .Values.mtlsSecret }}
    defaultMode: 0444
    items:
      - key: tls.crt
        path: tls.crt
      - key: tls.key
        path: tls.key
      - key: ca.crt
        path: ca.crt
{{- end }}
{{- end -}}

{{/* sextant.auditWebhook.volume: the audit webhook's Secrets (token, serving certificate, client CA) projected read-only into /etc/sextant/audit. */}}
{{- define "sextant.auditWebhook.volume" -}}
{{- $w := .Values.audit.webhook -}}
- name: audit-webhook
  projected:
    defaultMode: 0444
    sources:
      {{- if $w.tokenSecret.name }}
      - secret:
          name: {{ $w.tokenSecret.name }}
          items:
            - key: {{ $w.tokenSecret.key }}
              path: token
      {{- end }}
      - secret:
          name: {{ $w.tlsSecret }}
          items:
            - key: tls.crt
              path: tls.crt
            - key: tls.key
              path: tls.key
            {{- if $w.clientCertificate }}
            - key: ca.crt
              path: ca.crt
            {{- end }}
{{- end -}}

{{/* sextant.backend.env: the backend credential as an env var from a Secret (backend.credentials.mountAs=env). */}}
{{- define "sextant.backend.env" -}}
{{- $c := .Values.backend.credentials -}}
{{- if and $c.secretName (eq $c.mountAs "env") }}
- name: SEXTANT_BACKEND_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ $c.secretName }}
      key: {{ $c.secretKey }}
{{- end }}
{{- end -}}

{{/* sextant.backend.volumeMount: the backend credential file mount (backend.credentials.mountAs=file). */}}
{{- define "sextant.backend.volumeMount" -}}
{{- $c := .Values.backend.credentials -}}
{{- if and $c.secretName (eq $c.mountAs "file") }}
- name: backend-credentials
  mountPath: /etc/sextant/backend
  readOnly: true
{{- end }}
{{- if eq .Values.backend.type "file" }}
- name: export
  mountPath: /var/lib/sextant/export
{{- end }}
{{- end -}}

{{/* sextant.backend.volume: the backend credential Secret volume (backend.credentials.mountAs=file), and the export directory of the file backend. */}}
{{- define "sextant.backend.volume" -}}
{{- $c := .Values.backend.credentials -}}
{{- if and $c.secretName (eq $c.mountAs "file") }}
- name: backend-credentials
  secret:
    secretName: {{ $c.secretName }}
    defaultMode: 0444
    items:
      - key: {{ $c.secretKey }}
        path: {{ $c.secretKey }}
{{- end }}
{{- if eq .Values.backend.type "file" }}
- name: export
  emptyDir: {}
{{- end }}
{{- end -}}

{{/* sextant.backend.config: the exporter section of a component config; call with (dict "ctx" $ "typeKey" "protocol"|"type"), the key each component names the protocol by. */}}
{{- define "sextant.backend.config" -}}
{{- $b := .ctx.Values.backend -}}
{{- $headers := deepCopy $b.headers -}}
{{- $token := ternary "env:SEXTANT_BACKEND_TOKEN" (printf "file:/etc/sextant/backend/%s" $b.credentials.secretKey) (eq $b.credentials.mountAs "env") -}}
{{- if and $b.credentials.secretName (ne $b.type "splunk_hec") -}}
{{- $_ := set $headers $b.credentials.header $token -}}
{{- end -}}
exporter:
  {{ .typeKey }}: {{ $b.type }}
  {{- if eq $b.type "file" }}
  path: /var/lib/sextant/export/{signal}.jsonl
  {{- else }}
  endpoint: {{ $b.endpoint | quote }}
  {{- end }}
  {{- if eq .typeKey "protocol" }}
  compression: {{ $b.compression }}
  {{- else }}
  # The trace receiver sends gzip or none (backend.compression zstd becomes gzip here).
  compression: {{ ternary "gzip" $b.compression (eq $b.compression "zstd") }}
  {{- end }}
  {{- with $headers }}
  headers:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- if eq $b.type "splunk_hec" }}
  # Splunk HEC: the token is sent as `Authorization: Splunk <token>`.
  splunk:
    token: {{ $token | quote }}
    {{- range $k := list "index" "source" "sourcetype" }}
    {{- with (get $b.splunk $k) }}
    {{ $k }}: {{ . | quote }}
    {{- end }}
    {{- end }}
  {{- end }}
{{- end -}}

{{/* sextant.metadata.watchesNodes: "true" when a metadata.rules entry reads nodes (from: node), the only case where enrichment and the trace receiver watch nodes (@sextant/kube-metadata informers.nodes default; k8s.node.name comes from the pod's spec.nodeName). */}}
{{- define "sextant.metadata.watchesNodes" -}}
{{- $nodes := false -}}
{{- range .Values.metadata.rules -}}
{{- if eq .from "node" -}}{{- $nodes = true -}}{{- end -}}
{{- end -}}
{{- if $nodes -}}true{{- end -}}
{{- end -}}

{{/* sextant.metadata.rules: the get/list/watch RBAC rules of one component's API-server metadata cache (enrichment or trace receiver): pods, namespaces, owners, and nodes only when a rule reads nodes. */}}
{{- define "sextant.metadata.rules" -}}
- apiGroups: [""]
  resources: [pods, namespaces]
  verbs: [get, list, watch]
{{- if include "sextant.metadata.watchesNodes" . }}
# metadata.rules reads nodes (from: node): the component watches them.
- apiGroups: [""]
  resources: [nodes]
  verbs: [get, list, watch]
{{- end }}
- apiGroups: [apps]
  resources: [replicasets]
  verbs: [get, list, watch]
- apiGroups: [batch]
  resources: [jobs]
  verbs: [get, list, watch]
{{- end -}}

{{/* sextant.netpol.dnsEgress: the egress rule to the cluster DNS (UDP and TCP 53). */}}
{{- define "sextant.netpol.dnsEgress" -}}
{{- $d := .Values.networkPolicy.dns -}}
- to:
    - namespaceSelector:
        {{- toYaml $d.namespaceSelector | nindent 8 }}
      podSelector:
        {{- toYaml $d.podSelector | nindent 8 }}
  ports:
    - protocol: UDP
      port: {{ $d.port }}
    - protocol: TCP
      port: {{ $d.port }}
{{- end -}}

{{/* sextant.netpol.cidrEgress: an egress rule to the given CIDRs (any address when the list is empty) on the given TCP ports; call with (dict "cidrs" <list> "ports" <list>). */}}
{{- define "sextant.netpol.cidrEgress" -}}
- ports:
    {{- range .ports }}
    - protocol: TCP
      port: {{ . }}
    {{- end }}
  {{- with .cidrs }}
  to:
    {{- range . }}
    - ipBlock:
        cidr: {{ . }}
    {{- end }}
  {{- end }}
{{- end -}}

{{/* sextant.netpol.prometheusPeer: the peer that selects Prometheus (namespace and pod selectors). */}}
{{- define "sextant.netpol.prometheusPeer" -}}
{{- $p := .Values.networkPolicy.prometheus -}}
- namespaceSelector:
    {{- toYaml $p.namespaceSelector | nindent 4 }}
  podSelector:
    {{- toYaml $p.podSelector | nindent 4 }}
{{- end -}}

{{/* sextant.netpol.namespacePeer: a peer for one component's pods in its namespace; call with (dict "ctx" $ "component" "<name>" "namespace" "<ns>"). */}}
{{- define "sextant.netpol.namespacePeer" -}}
- namespaceSelector:
    matchLabels:
      kubernetes.io/metadata.name: {{ .namespace }}
  podSelector:
    matchLabels:
      {{- include "sextant.selectorLabels" (dict "ctx" .ctx "component" .component) | nindent 6 }}
{{- end -}}

{{/* sextant.validate: fails the render on value combinations the schema cannot express. */}}
{{- define "sextant.validate" -}}
{{- if and .Values.events.enabled (not (include "sextant.enrichment.enabled" .)) -}}
{{- fail "events.enabled needs the enrichment service, which runs only when logs.enabled, metrics.enabled, journald.enabled, audit.logFile.enabled or audit.webhook.enabled is true" -}}
{{- end -}}
{{- if and .Values.traces.enabled (has .Values.backend.type (list "file" "splunk_hec")) -}}
{{- fail (printf "backend.type %s is not supported by the trace receiver (it exports with otlp_grpc or otlp_http only); set traces.enabled=false and send traces to an OTLP endpoint from a second release (logs.enabled=false, metrics.enabled=false, traces.enabled=true), or pick another backend.type" .Values.backend.type) -}}
{{- end -}}
{{- if and (eq .Values.backend.compression "zstd") (ne .Values.backend.type "otlp_http") -}}
{{- fail (printf "backend.compression zstd is supported by backend.type otlp_http only, not %s (valid: gzip, none)" .Values.backend.type) -}}
{{- end -}}
{{- if and (eq .Values.backend.type "splunk_hec") (not .Values.backend.credentials.secretName) -}}
{{- fail "backend.type splunk_hec needs the HEC token: set backend.credentials.secretName (and secretKey) to a Secret holding the bare token" -}}
{{- end -}}
{{- $w := .Values.audit.webhook -}}
{{- if and $w.enabled (not $w.tlsSecret) -}}
{{- fail "audit.webhook.enabled needs audit.webhook.tlsSecret (a kubernetes.io/tls Secret): the webhook speaks HTTPS only" -}}
{{- end -}}
{{- if and $w.enabled (not $w.tokenSecret.name) (not $w.clientCertificate) -}}
{{- fail "audit.webhook.enabled needs audit.webhook.tokenSecret.name or audit.webhook.clientCertificate=true: the webhook never runs unauthenticated" -}}
{{- end -}}
{{- if and .Values.traces.enabled (not .Values.traces.grpc.enabled) (not .Values.traces.http.enabled) -}}
{{- fail "traces.enabled needs traces.grpc.enabled or traces.http.enabled" -}}
{{- end -}}
{{- end -}}
