# Benchmark-only Ansible callback: records when the first task whose name
# starts with "timed" starts and when the play ends, as JSON in the file
# named by THREADER_BENCH_TIMES, so the runner measures tasks and not
# ansible-playbook's start-up. Failed or unreachable results are counted.
from __future__ import annotations

import json
import os
import time

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
name: bench_timer
type: aggregate
short_description: times the tasks named timed* (benchmarks only)
description: Writes the start of the first timed task, the end of the play and failure counts to $THREADER_BENCH_TIMES.
"""


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "bench_timer"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.start = None
        self.failures = []

    def v2_playbook_on_task_start(self, task, is_conditional):
        if self.start is None and task.get_name().startswith("timed"):
            self.start = time.monotonic()

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self.failures.append("%s: %s" % (result._task.get_name(), result._result.get("msg", "")))

    def v2_runner_on_unreachable(self, result):
        self.failures.append("%s: unreachable: %s" % (result._task.get_name(), result._result.get("msg", "")))

    def v2_playbook_on_stats(self, stats):
        end = time.monotonic()
        path = os.environ.get("THREADER_BENCH_TIMES")
        if path:
            with open(path, "w", encoding="utf-8") as f:
                json.dump({"seconds": end - (self.start or end), "failures": self.failures[:5]}, f)
