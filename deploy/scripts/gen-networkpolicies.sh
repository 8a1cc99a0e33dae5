#!/bin/sh
# Regenerates networkpolicies/<set>/ from the chart with `sextant networkpolicies` (which runs helm template): one set
# per pipeline, plus the policies of optional features that add a flow (applied on top of a pipeline's set).
# helm: $SEXTANT_HELM, else helm on PATH. test/chart/networkpolicy.test.ts fails when the files drift.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
node=${NODE:-$root/node_modules/.bin/node}
gen() {
  set="$1"
  shift
  "$node" "$root/packages/cli/src/main.ts" networkpolicies \
    --release sextant --namespace sextant \
    -f "$root/deploy/networkpolicies-values/$set.yaml" \
    --out "$root/networkpolicies/$set" "$@"
}
for pipeline in logs metrics traces; do
  gen "$pipeline"
done
gen audit-webhook --feature audit-webhook
