"""Hypothesis settings for the property tests, chosen by ``HYPOTHESIS_PROFILE``.

- ``property`` (default): 100 examples a test, derandomized (the same inputs on every run and
  machine, so CI is deterministic), no deadline (two shared cores make timings noisy), no
  example database.
- ``thorough``: the same with 2,000 examples a test, for a longer hunt by hand::

      HYPOTHESIS_PROFILE=thorough pytest tests/property -n 0 --hypothesis-show-statistics
"""

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "property",
    max_examples=100,
    deadline=None,
    derandomize=True,
    database=None,
    print_blob=False,
    # each example overwrites its files in the test's tmp_path; the autouse ATTNKIT_HOME
    # fixture may be shared by the examples of one test
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
settings.register_profile("thorough", settings.get_profile("property"), max_examples=2000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "property"))
