import threading
import time

import pytest

from webrtc_session import Codec, Config, ConnectionState, MediaKind, SdpType, Session


@pytest.fixture
def config():
    c = Config(local_addresses=["127.0.0.1"])
    yield c
    c.free()


def wait_for(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.005)
    return predicate()


def connect(offerer: Session, answerer: Session, kind=MediaKind.AUDIO, codecs=(Codec.PCMU,)):
    """Offer/answer with trickle ICE; returns the two tracks once both sides are connected."""
    offerer.on_ice_candidate = lambda c, mid: answerer.add_remote_candidate(c)
    answerer.on_ice_candidate = lambda c, mid: offerer.add_remote_candidate(c)
    ta = offerer.add_track(kind, list(codecs))
    offer = offerer.create_offer()
    answerer.set_remote_description(SdpType.OFFER, offer)
    offerer.set_local_description(SdpType.OFFER, offer)
    tb = answerer.add_track(kind, list(codecs))
    answer = answerer.create_answer()
    offerer.set_remote_description(SdpType.ANSWER, answer)
    answerer.set_local_description(SdpType.ANSWER, answer)
    assert wait_for(
        lambda: offerer.connection_state == ConnectionState.CONNECTED
        and answerer.connection_state == ConnectionState.CONNECTED
    ), (offerer.failure_reason, answerer.failure_reason)
    return ta, tb


class Collector:
    """Thread-safe list of what a callback received."""

    def __init__(self):
        self.items = []
        self.lock = threading.Lock()

    def __call__(self, *args):
        with self.lock:
            self.items.append(args)

    def __len__(self):
        with self.lock:
            return len(self.items)
