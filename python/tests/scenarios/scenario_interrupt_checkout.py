"""Tells the Go test it is about to check out (through the FIFO
$BROKER_TEST_READY), then checks out from a slow provider: a Ctrl-C during
the checkout must leave nothing checked out. Run only by
cmd/broker/python_test.go."""

import os

from broker import Broker, _rpc


def test_checkout_interrupted():
    pid = _rpc.client().pid
    with open(os.environ["BROKER_TEST_READY"], "w") as f:
        f.write(f"none {pid}\n")
    Broker(nick="slow").checkout()
