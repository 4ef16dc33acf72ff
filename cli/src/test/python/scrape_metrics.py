#!/usr/bin/python3
"""Scrapes a Prometheus endpoint and prints what Prometheus' own Python parser reads of it.

usage: scrape_metrics.py URL [text|openmetrics]

Asks for the Prometheus text format (0.0.4) or OpenMetrics through the Accept header, checks that
the answer's Content-Type is the one asked for, parses the body with prometheus_client's parser of
that format (Debian's python3-prometheus-client), and prints one tab-separated line per family
("family", name, type, unit) and per sample ("sample", name, value, labels as k=v joined by '&',
each part percent-encoded). Exits 1 with a message on stderr when the scrape or the parse fails.
"""
import sys
import urllib.parse
import urllib.request

from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics
from prometheus_client.parser import text_string_to_metric_families as parse_text

ACCEPT = {
    "text": ("text/plain;version=0.0.4", "text/plain", parse_text),
    "openmetrics": ("application/openmetrics-text;version=1.0.0", "application/openmetrics-text", parse_openmetrics),
}


def main():
    url = sys.argv[1]
    fmt = sys.argv[2] if len(sys.argv) > 2 else "text"
    accept, expected_type, parse = ACCEPT[fmt]
    request = urllib.request.Request(url, headers={"Accept": accept})
    with urllib.request.urlopen(request, timeout=20) as response:
        content_type = response.headers.get("Content-Type", "")
        body = response.read().decode("utf-8")
    if not content_type.startswith(expected_type):
        sys.exit("asked for %s, got Content-Type %r" % (accept, content_type))
    q = lambda s: urllib.parse.quote(str(s), safe="")
    out = []
    for family in parse(body):
        out.append("\t".join(["family", family.name, family.type, family.unit or ""]))
        for s in family.samples:
            labels = "&".join(q(k) + "=" + q(v) for k, v in sorted(s.labels.items()))
            out.append("\t".join(["sample", s.name, repr(float(s.value)), labels]))
    print("\n".join(out))


if __name__ == "__main__":
    main()
