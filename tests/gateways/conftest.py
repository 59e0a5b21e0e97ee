"""The simulator fixtures (a real subprocess) for this package's tests."""

from tests.simulator.fixtures import simulator, simulator_process, webhook_receiver  # noqa: F401
