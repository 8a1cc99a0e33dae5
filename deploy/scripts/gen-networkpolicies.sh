#!/bin/sh
# Regenerates networkpolicies/<pipeline>/ from the chart with `sextant networkpolicies` (which runs helm template).
# helm: $SEXTANT_HELM, else helm on PATH. test/chart/networkpolicies.test.ts fails when the files drift.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
node=${NODE:-$root/node_modules/.bin/node}
for pipeline in logs metrics traces; do
  "$node" "$root/packages/cli/src/main.ts" networkpolicies \
    --release sextant --namespace sextant \
    -f "$root/deploy/networkpolicies-values/$pipeline.yaml" \
    --out "$root/networkpolicies/$pipeline"
done
