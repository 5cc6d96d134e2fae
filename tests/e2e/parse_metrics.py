"""Parses an OpenMetrics exposition from stdin with the Prometheus project's own parser
(PyPI prometheus-client) and prints its samples as JSON: [{"name", "labels", "value"}].
A malformed exposition makes the parser raise, and this script exit non-zero. Used by
tests/tests/metrics.rs."""

import json
import sys

from prometheus_client.openmetrics.parser import text_string_to_metric_families

samples = [
    {"name": s.name, "labels": s.labels, "value": s.value}
    for family in text_string_to_metric_families(sys.stdin.read())
    for s in family.samples
]
json.dump(samples, sys.stdout)
