# -*- coding: utf-8 -*-
# Copyright: threader.guard developers
# Apache License 2.0 (see the collection's galaxy.yml)
"""Options every threader.guard module takes to publish what a run did as
Prometheus metrics. The Go side is internal/metrics/observe (Options,
WithOptions); docs/metrics.md documents the metric set, alerts and logs."""

from __future__ import annotations


class ModuleDocFragment(object):

    DOCUMENTATION = r"""
options:
  metrics_textfile:
    description:
      - Write the run's metrics to this file, for the textfile collector of the Prometheus node_exporter
        (C(--collector.textfile.directory); Debian's C(prometheus-node-exporter) reads
        C(/var/lib/prometheus/node-exporter)).
      - An absolute path; the name must end in C(.prom) (node_exporter ignores other files) and the directory must
        exist.
      - The file is replaced atomically and may be shared by several modules and runs; a run replaces only its
        own series (those with its C(name) label) and keeps the rest, including other tools' metrics.
    type: path
  pushgateway_url:
    description:
      - "Push the run's metrics to this Prometheus Pushgateway, for example C(http://pushgateway.example:9091).
        Scrape the Pushgateway with C(honor_labels: true)."
      - The grouping key is C(job) (the module's short name), C(instance) (the host the module runs on) and
        C(name).
      - C(http://user:password@host:9091) sends basic auth; the password is masked in the task's output.
      - The push is sent only to the origin (scheme, host, port) of this URL. A redirect within it is followed; a
        redirect to another scheme, host or port is not, so the basic auth never leaves the Pushgateway, and the
        push fails with a warning naming the target. Connection errors, 429 and 5xx are retried twice.
    type: str
notes:
  - Metrics are published only when O(metrics_textfile) or O(pushgateway_url) is set, never in check mode, and
    not by a run that recorded nothing (for example one skipped by C(creates)). A failure to publish does not
    fail the task; it becomes a warning naming the destination.
  - Events (each retry attempt, guard state change, SLO evaluation, rollback) are logged as one logfmt line each to the
    system log (C(/dev/log); the environment variable C(THREADER_GUARD_SYSLOG_SOCKET) replaces it) with the
    identifier C(ansible-<module>). A task with C(no_log) logs nothing, and no_log values are masked in metrics
    and log lines. Without a system log nothing is logged and nothing fails.
  - The metric set, the alert rules (C(files/prometheus/threader_guard.rules.yml)) and the Grafana dashboard
    (C(files/grafana/threader-guard-dashboard.json)) are described in the collection's C(docs/metrics.md).
"""
