"""Checks a host out with the fixture, tells the Go test which host and
which broker rpc (through the FIFO $BROKER_TEST_READY), then blocks until
killed or interrupted. Run only by cmd/broker/python_test.go."""

import os

from broker import _rpc


def test_block(broker_host):
    with open(os.environ["BROKER_TEST_READY"], "w") as f:
        f.write(f"{broker_host.id} {_rpc.client().pid}\n")
    with open(os.environ["BROKER_TEST_RELEASE"]) as f:  # a FIFO nobody writes
        f.read()
