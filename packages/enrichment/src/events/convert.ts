// events.k8s.io/v1 Event → one OTLP log record in a ResourceLogs of the involved ("regarding")
// object. OTel semantic conventions (model/k8s/registry.yaml, semantic-conventions commit
// 384d661, 2026-08) define k8s.namespace.name, k8s.pod.*, k8s.node.*, k8s.<workload>.name/uid and
// k8s.cluster.name, but no event or generic-object attributes; for those this module uses the names
// of the OTel Collector's k8seventsreceiver (k8s.object.*, k8s.event.*, contrib
// receiver/k8seventsreceiver/k8s_event_to_logdata.go) and adds k8s.event.type,
// k8s.event.reporting_controller and k8s.event.reporting_instance. The event's note is the body.
import { SeverityNumber, anyValueToMessage, encodeLogsRequest, keyValueToMessage, rfc3339ToUnixNano as toUnixNano } from '@sextant/otlp';
import type { KeyValue, LogsRequestInit } from '@sextant/otlp';

/** The fields of an events.k8s.io/v1 Event that are read (everything else is ignored). */
interface KubeEvent {
  metadata?: { name?: string; namespace?: string; uid?: string; resourceVersion?: string; creationTimestamp?: string };
  eventTime?: string | null;
  series?: { count?: number; lastObservedTime?: string } | null;
  reportingController?: string;
  reportingInstance?: string;
  action?: string;
  reason?: string;
  regarding?: { kind?: string; name?: string; namespace?: string; uid?: string; apiVersion?: string; fieldPath?: string; resourceVersion?: string };
  related?: { kind?: string; name?: string; namespace?: string; uid?: string } | null;
  note?: string;
  type?: string;
  deprecatedCount?: number;
  deprecatedFirstTimestamp?: string | null;
  deprecatedLastTimestamp?: string | null;
  deprecatedSource?: { component?: string; host?: string } | null;
}

/** Kinds whose name and uid have their own semconv attribute (k8s.<kind>.name / .uid). */
const KIND_ATTR: Record<string, string> = {
  Pod: 'pod',
  Node: 'node',
  Namespace: 'namespace',
  Deployment: 'deployment',
  ReplicaSet: 'replicaset',
  StatefulSet: 'statefulset',
  DaemonSet: 'daemonset',
  Job: 'job',
  CronJob: 'cronjob',
  ReplicationController: 'replicationcontroller',
  HorizontalPodAutoscaler: 'hpa',
  ResourceQuota: 'resourcequota',
};

/** How many times the event happened: series.count, else deprecatedCount, else 1. */
function eventCount(ev: KubeEvent): number {
  return ev.series?.count ?? (typeof ev.deprecatedCount === 'number' && ev.deprecatedCount > 0 ? ev.deprecatedCount : 1);
}

/** Resource attributes of the involved object (pod metadata is added by the caller). */
function regardingAttributes(ev: KubeEvent, clusterName: string | undefined): KeyValue[] {
  const r = ev.regarding ?? {};
  const out: KeyValue[] = [];
  const add = (key: string, value: string | undefined): void => {
    if (value !== undefined && value !== '') out.push({ key, value });
  };
  add('k8s.namespace.name', r.namespace ?? ev.metadata?.namespace);
  const kindAttr = r.kind === undefined ? undefined : KIND_ATTR[r.kind];
  if (kindAttr !== undefined && kindAttr !== 'namespace') {
    add(`k8s.${kindAttr}.name`, r.name);
    add(`k8s.${kindAttr}.uid`, r.uid);
  }
  add('k8s.object.kind', r.kind);
  add('k8s.object.name', r.name);
  add('k8s.object.uid', r.uid);
  add('k8s.object.api_version', r.apiVersion);
  add('k8s.object.fieldpath', r.fieldPath);
  add('k8s.object.resource_version', r.resourceVersion);
  if (kindAttr !== 'node') add('k8s.node.name', ev.deprecatedSource?.host);
  add('k8s.cluster.name', clusterName);
  return out;
}

/** Record time: the last occurrence (series.lastObservedTime, eventTime, deprecated timestamps, creation). */
function eventTimes(ev: KubeEvent): { time: bigint; first: bigint | undefined } {
  const first = toUnixNano(ev.eventTime) ?? toUnixNano(ev.deprecatedFirstTimestamp) ?? toUnixNano(ev.metadata?.creationTimestamp);
  const time = toUnixNano(ev.series?.lastObservedTime) ?? toUnixNano(ev.deprecatedLastTimestamp) ?? first ?? 0n;
  return { time, first };
}

function recordAttributes(ev: KubeEvent): KeyValue[] {
  const out: KeyValue[] = [];
  const add = (key: string, value: string | undefined | null): void => {
    if (typeof value === 'string' && value !== '') out.push({ key, value });
  };
  add('k8s.event.name', ev.metadata?.name);
  add('k8s.event.uid', ev.metadata?.uid);
  add('k8s.event.reason', ev.reason);
  add('k8s.event.type', ev.type);
  add('k8s.event.action', ev.action);
  add('k8s.event.reporting_controller', ev.reportingController ?? ev.deprecatedSource?.component);
  add('k8s.event.reporting_instance', ev.reportingInstance);
  out.push({ key: 'k8s.event.count', value: BigInt(eventCount(ev)) });
  const first = eventTimes(ev).first;
  if (first !== undefined) add('k8s.event.start_time', new Date(Number(first / 1_000_000n)).toISOString());
  add('k8s.event.resource_version', ev.metadata?.resourceVersion);
  if (ev.related != null) {
    add('k8s.event.related.kind', ev.related.kind);
    add('k8s.event.related.name', ev.related.name);
    add('k8s.event.related.namespace', ev.related.namespace);
    add('k8s.event.related.uid', ev.related.uid);
  }
  return out;
}

function severityOf(type: string | undefined): { number: SeverityNumber; text: string } {
  switch (type) {
    case 'Warning':
      return { number: SeverityNumber.WARN, text: 'Warning' };
    case 'Normal':
      return { number: SeverityNumber.INFO, text: 'Normal' };
    default:
      return { number: SeverityNumber.UNSPECIFIED, text: type ?? '' };
  }
}

/** One event with the resource attributes it gets (regarding object + pod metadata). */
interface EventForExport {
  event: KubeEvent;
  resource: readonly KeyValue[];
}

const SCOPE = { name: 'sextant.k8s.events' };

type ResourceLogsInit = NonNullable<LogsRequestInit['resourceLogs']>[number];
type ScopeLogsInit = NonNullable<ResourceLogsInit['scopeLogs']>[number];
type LogRecordInit = NonNullable<ScopeLogsInit['logRecords']>[number];

/** An ExportLogsServiceRequest: one ResourceLogs per distinct resource, records in arrival order. */
function encodeEvents(events: readonly EventForExport[], observedUnixNano: bigint): Uint8Array {
  const byResource = new Map<string, { resource: readonly KeyValue[]; records: LogRecordInit[] }>();
  for (const { event, resource } of events) {
    const key = JSON.stringify(resource, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
    let group = byResource.get(key);
    if (group === undefined) {
      group = { resource, records: [] };
      byResource.set(key, group);
    }
    const sev = severityOf(event.type);
    group.records.push({
      timeUnixNano: eventTimes(event).time,
      observedTimeUnixNano: observedUnixNano,
      severityNumber: sev.number,
      severityText: sev.text,
      body: anyValueToMessage(event.note ?? ''),
      attributes: recordAttributes(event).map(keyValueToMessage),
    });
  }
  const resourceLogs: ResourceLogsInit[] = [...byResource.values()].map((g) => ({
    resource: { attributes: g.resource.map(keyValueToMessage) },
    scopeLogs: [{ scope: SCOPE, logRecords: g.records }],
  }));
  return encodeLogsRequest({ resourceLogs });
}

export { KIND_ATTR, encodeEvents, eventCount, regardingAttributes };
export type { EventForExport, KubeEvent };
