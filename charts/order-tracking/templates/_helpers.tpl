{{/*
Naming, labels and the per-service values. Every template that renders one
object per service ranges over "order-tracking.serviceKeys" and reads the
service's settings through "order-tracking.svc", which lays the service's own
block over serviceDefaults.
*/}}

{{- define "order-tracking.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "order-tracking.fullname" -}}
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

{{- define "order-tracking.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The values keys of the services, in the order they are rendered. */}}
{{- define "order-tracking.serviceKeys" -}}
ordersService trackingService notificationService
{{- end }}

{{/* The component (and binary) name of a values key: ordersService -> orders-service. */}}
{{- define "order-tracking.component" -}}
{{- $names := dict "ordersService" "orders-service" "trackingService" "tracking-service" "notificationService" "notification-service" -}}
{{- required (printf "unknown service %q" .) (get $names .) -}}
{{- end }}

{{/*
The settings of one service as YAML: serviceDefaults with the service's own
block laid over it (maps merge; an empty value keeps the default).
Call: fromYaml (include "order-tracking.svc" (dict "root" $ "key" "ordersService"))
*/}}
{{- define "order-tracking.svc" -}}
{{- $defaults := deepCopy .root.Values.serviceDefaults -}}
{{- $own := deepCopy (index .root.Values .key) -}}
{{- $merged := mergeOverwrite $defaults $own -}}
{{- $_ := set $merged "key" .key -}}
{{- $_ := set $merged "component" (include "order-tracking.component" .key) -}}
{{- $_ := set $merged "fullname" (printf "%s-%s" (include "order-tracking.fullname" .root | trunc 40 | trimSuffix "-") (include "order-tracking.component" .key)) -}}
{{- toYaml $merged -}}
{{- end }}

{{/* Full name of a service's objects, from its values key. */}}
{{- define "order-tracking.svcName" -}}
{{- printf "%s-%s" (include "order-tracking.fullname" .root | trunc 40 | trimSuffix "-") (include "order-tracking.component" .key) -}}
{{- end }}

{{- define "order-tracking.labels" -}}
helm.sh/chart: {{ include "order-tracking.chart" . }}
app.kubernetes.io/name: {{ include "order-tracking.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: order-tracking
{{- end }}

{{/* Labels that select this release's pods (every component). */}}
{{- define "order-tracking.releaseSelectorLabels" -}}
app.kubernetes.io/name: {{ include "order-tracking.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Call with (dict "root" $ "component" "orders-service"). */}}
{{- define "order-tracking.componentLabels" -}}
{{ include "order-tracking.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "order-tracking.selectorLabels" -}}
{{ include "order-tracking.releaseSelectorLabels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/*
Image reference of a service: [registry/]repository:tag. The tag may carry a
digest (skaffold passes tag@sha256:...). Call with (dict "root" $ "svc" $svc).
*/}}
{{- define "order-tracking.image" -}}
{{- $repo := .svc.image.repository -}}
{{- with .root.Values.image.registry }}{{ $repo = printf "%s/%s" (trimSuffix "/" .) $repo }}{{ end -}}
{{- $tag := .svc.image.tag | default .root.Values.image.tag | default .root.Chart.AppVersion | toString -}}
{{- if eq (first (splitList "@" $tag)) "latest" }}{{ fail (printf "%s: the image tag \"latest\" is not allowed; name a build" .svc.component) }}{{ end -}}
{{- printf "%s:%s" $repo $tag -}}
{{- end }}

{{- define "order-tracking.serviceAccountName" -}}
{{- if .svc.serviceAccount.create -}}
{{- default .svc.fullname .svc.serviceAccount.name -}}
{{- else -}}
{{- default "default" .svc.serviceAccount.name -}}
{{- end -}}
{{- end }}

{{/* Kafka bootstrap address: the Strimzi cluster's, or the one the user brings. */}}
{{- define "order-tracking.kafkaCluster" -}}
{{- default (printf "%s-kafka" (include "order-tracking.fullname" . | trunc 50 | trimSuffix "-")) .Values.kafka.strimzi.clusterName -}}
{{- end }}

{{- define "order-tracking.kafkaBootstrap" -}}
{{- if .Values.kafka.strimzi.enabled -}}
{{- printf "%s-kafka-bootstrap:%d" (include "order-tracking.kafkaCluster" .) (int (include "order-tracking.kafkaPort" .)) -}}
{{- else -}}
{{- required "kafka.bootstrapServers is required when kafka.strimzi.enabled is false" .Values.kafka.bootstrapServers -}}
{{- end -}}
{{- end }}

{{/* The Strimzi cluster's one listener: TLS with SCRAM-SHA-512 logins. */}}
{{- define "order-tracking.kafkaPort" -}}9093{{- end }}

{{/* Where the Strimzi cluster CA (Secret <cluster>-cluster-ca-cert, key ca.crt) is mounted. */}}
{{- define "order-tracking.kafkaCADir" -}}/etc/kafka/ca{{- end }}

{{- define "order-tracking.dltTopic" -}}
{{- default (printf "%s.dlt" .Values.kafka.topic.name) .Values.kafka.deadLetterTopic.name -}}
{{- end }}

{{/* "true" when the monitoring objects should render (monitoring.enabled: auto|true|false). */}}
{{- define "order-tracking.monitoringEnabled" -}}
{{- $m := .Values.monitoring.enabled -}}
{{- if eq (toString $m) "auto" -}}
{{- if .Capabilities.APIVersions.Has "monitoring.coreos.com/v1" }}true{{ end -}}
{{- else if eq (toString $m) "true" -}}
true
{{- end -}}
{{- end }}

{{/*
auth.mode as the services read it: jwt or off. An unquoted `off` in a values
file is YAML's false, which the schema accepts as off too.
*/}}
{{- define "order-tracking.authMode" -}}
{{- if eq (toString .Values.auth.mode) "jwt" }}jwt{{ else }}off{{ end -}}
{{- end }}

{{/*
Non-secret settings of a service as env var name: value (YAML map), used by its
ConfigMap and, inline, by its migration Job (which runs before the ConfigMap
exists on a first install). Call with (dict "root" $ "svc" $svc).
*/}}
{{- define "order-tracking.config" -}}
{{- $root := .root -}}
{{- $svc := .svc -}}
{{- $v := $root.Values -}}
{{- $c := dict
  "HTTP_PORT" (toString (int $svc.port))
  "HTTP_SHUTDOWN_TIMEOUT" $svc.shutdownTimeout
  "LOG_FORMAT" $svc.logging.format
  "LOG_LEVEL" $svc.logging.level
  "KAFKA_BROKERS" (include "order-tracking.kafkaBootstrap" $root)
  "KAFKA_TOPIC" $v.kafka.topic.name
-}}
{{- /* With Strimzi, TLS and SCRAM-SHA-512 as the KafkaUser; the username and
password are in "order-tracking.secretEnv". */ -}}
{{- if $v.kafka.strimzi.enabled -}}
{{- $_ := set $c "KAFKA_SECURITY_PROTOCOL" "SASL_SSL" -}}
{{- $_ := set $c "KAFKA_SASL_MECHANISM" "SCRAM-SHA-512" -}}
{{- $_ := set $c "KAFKA_SSL_CA_LOCATION" (printf "%s/ca.crt" (include "order-tracking.kafkaCADir" $root)) -}}
{{- end -}}
{{- if eq $svc.key "ordersService" -}}
{{- $_ := set $c "KAFKA_CREATE_TOPIC" (ternary "false" "true" $v.kafka.strimzi.enabled) -}}
{{- $_ := set $c "KAFKA_TOPIC_PARTITIONS" (toString (int $svc.kafka.topicPartitions)) -}}
{{- $_ := set $c "MIGRATE_ON_START" (ternary "false" "true" $svc.migrations.hookJob) -}}
{{- $_ := set $c "OUTBOX_POLL_INTERVAL" $svc.outboxPollInterval -}}
{{- $_ := set $c "IDEMPOTENCY_KEY_TTL" $svc.idempotencyKeyTTL -}}
{{- else if eq $svc.key "trackingService" -}}
{{- $_ := set $c "KAFKA_GROUP_ID" $svc.kafka.groupId -}}
{{- $_ := set $c "KAFKA_DLT_TOPIC" (include "order-tracking.dltTopic" $root) -}}
{{- $_ := set $c "ORDERS_SERVICE_URL" (printf "http://%s:%d" (include "order-tracking.svcName" (dict "root" $root "key" "ordersService")) (int $v.ordersService.port)) -}}
{{- $_ := set $c "TRACKING_TTL" $svc.ttl -}}
{{- $_ := set $c "REDIS_ADDR" $v.redis.addr -}}
{{- $_ := set $c "SSE_MAX_STREAMS" (toString (int $svc.sse.maxStreams)) -}}
{{- $_ := set $c "SSE_MAX_STREAMS_PER_CLIENT" (toString (int $svc.sse.maxStreamsPerClient)) -}}
{{- else if eq $svc.key "notificationService" -}}
{{- $_ := set $c "KAFKA_GROUP_ID" $svc.kafka.groupId -}}
{{- $_ := set $c "KAFKA_DLT_TOPIC" (include "order-tracking.dltTopic" $root) -}}
{{- $_ := set $c "MIGRATE_ON_START" (ternary "false" "true" $svc.migrations.hookJob) -}}
{{- $_ := set $c "NOTIFY_SENDER" $svc.notify.sender -}}
{{- with $svc.notify.webhookUrl }}{{ $_ := set $c "NOTIFY_WEBHOOK_URL" . }}{{ end -}}
{{- with $svc.notify.createdTemplate }}{{ $_ := set $c "NOTIFY_CREATED_TEMPLATE" . }}{{ end -}}
{{- with $svc.notify.updatedTemplate }}{{ $_ := set $c "NOTIFY_UPDATED_TEMPLATE" . }}{{ end -}}
{{- end -}}
{{- /* Access control, the same for every service; the issuer and audience
only mean something when tokens are checked. */ -}}
{{- $_ := set $c "AUTH_MODE" (include "order-tracking.authMode" $root) -}}
{{- if eq (include "order-tracking.authMode" $root) "jwt" -}}
{{- $_ := set $c "OIDC_ISSUER_URL" $v.auth.issuerURL -}}
{{- $_ := set $c "OIDC_AUDIENCE" $v.auth.audience -}}
{{- end -}}
{{- $_ := set $c "RATE_LIMIT_PER_SECOND" (toString $svc.rateLimit.perSecond) -}}
{{- $_ := set $c "RATE_LIMIT_BURST" (toString (int $svc.rateLimit.burst)) -}}
{{- with $svc.cors.allowedOrigins }}{{ $_ := set $c "CORS_ALLOWED_ORIGINS" (join "," .) }}{{ end -}}
{{- with $svc.trustedProxies }}{{ $_ := set $c "HTTP_TRUSTED_PROXIES" (join "," .) }}{{ end -}}
{{- range $k, $val := $svc.config }}{{ $_ := set $c $k (toString $val) }}{{ end -}}
{{- toYaml $c -}}
{{- end }}

{{/*
The Secret with tracking-service's OAuth 2.0 client (auth.mode=jwt):
auth.clientCredentials.existingSecret, or by default "<fullname>-oidc-client".
The operator creates it; the chart never does (no credential in its values).
*/}}
{{- define "order-tracking.oidcClientSecret" -}}
{{- default (printf "%s-oidc-client" (include "order-tracking.fullname" .)) .Values.auth.clientCredentials.existingSecret -}}
{{- end }}

{{/*
The database env of a service with one: DATABASE_URL names the user, host,
database and sslmode, never a password; DATABASE_PASSWORD comes apart, from
the Secret, so it needs no URL escaping and is never a plain value. Used by
the Deployment and the migration Job. Call with (dict "root" $ "svc" $svc).
*/}}
{{- define "order-tracking.databaseEnv" -}}
{{- $v := .root.Values -}}
{{- if hasKey .svc "database" }}
{{- $db := .svc.database }}
- name: DATABASE_URL
  value: {{ printf "postgres://%s@%s:%d/%s?sslmode=%s" (urlquery $db.username) $v.postgresql.host (int $v.postgresql.port) (urlquery $db.name) $v.postgresql.sslmode | quote }}
- name: DATABASE_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ required "postgresql.existingSecret is required" $v.postgresql.existingSecret }}
      key: {{ $db.passwordKey }}
{{- end }}
{{- end }}

{{/* The KafkaUser of a service: its name is the service's full name. */}}
{{- define "order-tracking.kafkaUser" -}}
{{- .svc.fullname -}}
{{- end }}

{{/*
Env entries that carry credentials, each from its Secret: the database's
("order-tracking.databaseEnv"), the KafkaUser's password (with Strimzi),
Redis' and tracking-service's OAuth 2.0 client. Call with (dict "root" $ "svc" $svc).
*/}}
{{- define "order-tracking.secretEnv" -}}
{{- $v := .root.Values -}}
{{- include "order-tracking.databaseEnv" . }}
{{- if $v.kafka.strimzi.enabled }}
{{- $user := include "order-tracking.kafkaUser" . }}
- name: KAFKA_SASL_USERNAME
  value: {{ $user | quote }}
{{- /* The user operator creates this Secret with the KafkaUser: until then
the container waits (CreateContainerConfigError), and starts once it exists. */}}
- name: KAFKA_SASL_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ $user }}
      key: password
{{- end }}
{{- if and (eq .svc.key "trackingService") $v.redis.existingSecret }}
- name: REDIS_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ $v.redis.existingSecret }}
      key: {{ $v.redis.secretKey }}
{{- end }}
{{- /* The client tracking-service gets its tokens for orders-service with,
from the Secret the operator creates ("order-tracking.oidcClientSecret"). Not
optional: until that Secret exists the container stays un-started
(CreateContainerConfigError), as NOTES.txt tells. */}}
{{- if and (eq .svc.key "trackingService") (eq (include "order-tracking.authMode" .root) "jwt") }}
{{- $cc := $v.auth.clientCredentials }}
{{- $secret := include "order-tracking.oidcClientSecret" .root }}
- name: OIDC_CLIENT_ID
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: {{ $cc.clientIdKey }}
- name: OIDC_CLIENT_SECRET
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: {{ $cc.clientSecretKey }}
{{- end }}
{{- end }}

{{/*
Checks the schema cannot state with a useful message, all reported at once
so that one round trip fixes them. configmap.yaml calls it: that template is
rendered on every install, whichever services are enabled.
*/}}
{{- define "order-tracking.validate" -}}
{{- $v := .Values -}}
{{- $problems := list -}}
{{- if eq (include "order-tracking.authMode" .) "jwt" -}}
{{- if not $v.auth.issuerURL -}}
{{- $problems = append $problems "auth.issuerURL is required: set auth.issuerURL to your OIDC issuer, or set auth.mode=off explicitly to run without authentication" -}}
{{- end -}}
{{- end -}}
{{- if $v.ingress.enabled -}}
{{- range $h, $host := $v.ingress.hosts -}}
{{- range $i, $p := $host.paths -}}
{{- with include "order-tracking.exposesOperational" $p.path -}}
{{- $problems = append $problems (printf "ingress.hosts[%d].paths[%d].path %q %s" $h $i $p.path .) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- if $v.httpRoute.enabled -}}
{{- range $i, $r := $v.httpRoute.rules -}}
{{- with include "order-tracking.exposesOperational" $r.path -}}
{{- $problems = append $problems (printf "httpRoute.rules[%d].path %q %s" $i $r.path .) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- /* Each service must get to stop before it is killed: the preStop sleep,
the HTTP drain (shutdownTimeout), the Kafka producer's close (10 s in
orders-service, 5 s for the consumers' dead-letter producer) and the trace
flush (5 s) run one after the other; the last two are bounded in the
services' code (services/orders-service/main.go, pkg/kafka/consumer.go,
pkg/service/service.go). */ -}}
{{- range $key := splitList " " (include "order-tracking.serviceKeys" .) -}}
{{- $svc := fromYaml (include "order-tracking.svc" (dict "root" $ "key" $key)) -}}
{{- if $svc.enabled -}}
{{- $producerClose := ternary 10 5 (eq $key "ordersService") -}}
{{- $drain := include "order-tracking.durationSeconds" $svc.shutdownTimeout | float64 -}}
{{- $need := addf (int $svc.preStopSleepSeconds) $drain $producerClose 5 -}}
{{- if le (float64 $svc.terminationGracePeriodSeconds) $need -}}
{{- $problems = append $problems (printf "%s: terminationGracePeriodSeconds %d must exceed %v s: preStopSleepSeconds %d + shutdownTimeout %s + %d s producer close + 5 s trace flush" $key (int $svc.terminationGracePeriodSeconds) $need (int $svc.preStopSleepSeconds) $svc.shutdownTimeout $producerClose) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- with $problems -}}
{{- fail (printf "invalid values:\n- %s" (join "\n- " .)) -}}
{{- end -}}
{{- end }}

{{/*
Why a public route's path would reach an operational endpoint (metrics,
probes, profiles) of the service port, or nothing when it would not. The
path is compared as a string prefix, whatever its type: a Prefix "/" covers
everything, and ImplementationSpecific paths are string prefixes on
ingress-nginx, so "/m" would reach /metrics there.
*/}}
{{- define "order-tracking.exposesOperational" -}}
{{- $p := lower (trimSuffix "/" .) -}}
{{- range $op := list "/metrics" "/healthz" "/readyz" "/debug" "/actuator" -}}
{{- if or (hasPrefix $p $op) (hasPrefix (printf "%s/" $op) $p) -}}
{{- printf "would expose %s: route only the API and page paths (/orders, /api/v1/orders, /openapi.json, /v3/api-docs, /api-docs, /track, /t, /notifications)" $op -}}
{{- break -}}
{{- end -}}
{{- end -}}
{{- end }}

{{/*
Seconds of a Go duration (e.g. 20s, 1m30s, 500ms), as a decimal string; the
schema's pattern admits only such durations.
*/}}
{{- define "order-tracking.durationSeconds" -}}
{{- $total := 0.0 -}}
{{- $unit := dict "h" 3600.0 "m" 60.0 "s" 1.0 "ms" 0.001 "us" 0.000001 "µs" 0.000001 "ns" 0.000000001 -}}
{{- range $part := regexFindAll "[0-9.]+(ns|us|µs|ms|s|m|h)" (toString .) -1 -}}
{{- $u := regexFind "(ns|us|µs|ms|s|m|h)$" $part -}}
{{- $total = addf $total (mulf (float64 (trimSuffix $u $part)) (get $unit $u)) -}}
{{- end -}}
{{- $total -}}
{{- end }}

{{/* The restricted container security context, shared by every container. */}}
{{- define "order-tracking.containerSecurityContext" -}}
{{- toYaml .Values.serviceDefaults.securityContext }}
{{- end }}
