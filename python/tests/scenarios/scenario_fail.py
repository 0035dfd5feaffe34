"""A failing test and an erroring one: their fixtures' hosts are checked in
all the same. Run only by cmd/broker/python_test.go."""

import os


def test_fails(broker_host):
    with open(os.environ["BROKER_TEST_SEEN"], "a") as f:
        f.write(broker_host.id + "\n")
    assert broker_host.id == "something else"


def test_raises(broker_host):
    with open(os.environ["BROKER_TEST_SEEN"], "a") as f:
        f.write(broker_host.id + "\n")
    raise RuntimeError("boom")
