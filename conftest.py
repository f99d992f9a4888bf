"""Root pytest configuration: every test in the repo gets the real-services harness."""

pytest_plugins = ["tests.harness.fixtures"]
