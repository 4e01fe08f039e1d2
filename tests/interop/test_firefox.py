"""Interop with headless Firefox ESR (Debian's `firefox-esr`): both offer directions, trickle
and complete descriptions, balanced and max-bundle (Firefox then offers its video section as
`port 0` + `a=bundle-only`), media both ways, and Firefox's own getStats() as proof.

Firefox gathers no loopback candidates, so these tests run inside a network namespace with a
veth pair (scripts/firefox-interop.sh creates it, runs this file there and removes it): the
library binds 10.213.0.1 and Firefox's candidates on 10.213.0.x are used."""

import os
import shutil

import pytest

import webrtc_session as w
from conftest import BrowserProcess
from test_chromium import run

LIBRARY_ADDR = os.environ.get("WRS_NETNS_LIBRARY_ADDR", "")
PREFIX = os.environ.get("WRS_NETNS_PREFIX", "")

PREFS = {
    "media.navigator.streams.fake": True,
    "media.navigator.permission.disabled": True,
    "media.peerconnection.ice.loopback": True,
    "media.peerconnection.ice.obfuscate_host_addresses": False,
    "media.peerconnection.ice.default_address_only": False,
    "media.peerconnection.ice.link_local": False,
    "media.peerconnection.default_iceservers": "[]",
    "media.peerconnection.mtransport_process": False,
    "network.process.enabled": False,
    "security.sandbox.content.level": 0,
    "media.autoplay.default": 0,
    "network.captive-portal-service.enabled": False,
    "network.connectivity-service.enabled": False,
    "toolkit.telemetry.enabled": False,
    "datareporting.healthreport.uploadEnabled": False,
    "datareporting.policy.dataSubmissionEnabled": False,
    "app.update.enabled": False,
    "app.update.auto": False,
    "browser.safebrowsing.malware.enabled": False,
    "browser.safebrowsing.phishing.enabled": False,
    "browser.safebrowsing.downloads.enabled": False,
    "browser.shell.checkDefaultBrowser": False,
    "browser.startup.homepage_override.mstone": "ignore",
    "extensions.update.enabled": False,
    "browser.search.update": False,
    "network.dns.disableIPv6": True,
}


def firefox_binary():
    path = shutil.which("firefox-esr") or shutil.which("firefox")
    if not path:
        pytest.fail("firefox-esr is not installed (make test installs Debian's firefox-esr package)")
    return path


class Firefox(BrowserProcess):
    def __init__(self, url: str):
        if not LIBRARY_ADDR:
            pytest.fail("run through scripts/firefox-interop.sh (it creates the network namespace these tests need)")
        env = dict(os.environ, MOZ_HEADLESS="1")
        if os.environ.get("WRS_FIREFOX_LOG"):
            env.update(MOZ_LOG="nicer:5,mtransport:5", MOZ_LOG_FILE=os.environ["WRS_FIREFOX_LOG"])

        def args(profile):
            with open(os.path.join(profile, "user.js"), "w") as f:
                for k, v in PREFS.items():
                    value = str(v).lower() if isinstance(v, bool) else f'"{v}"' if isinstance(v, str) else v
                    f.write(f'user_pref("{k}", {value});\n')
            return [firefox_binary(), "--headless", "--no-remote", "--profile", profile, url]

        super().__init__("wrs-firefox-", args, env)


def call(offerer, trickle, page_bundle, scenario, **kw):
    return run(offerer, trickle=trickle, scenario=scenario, browser_cls=Firefox, peer="Firefox ESR 153",
               local_address=LIBRARY_ADDR, prefix=PREFIX, page_bundle=page_bundle, **kw)


def test_firefox_offers_max_bundle_trickle():
    facts = call("browser", True, "max-bundle", "Firefox offers max-bundle (video bundle-only), library answers, trickle")
    assert facts["browser_video_frames"] >= 10 and facts["lib_rx_video"] > 0, "the bundle-only video section flows"


def test_firefox_offers_balanced_complete_descriptions():
    call("browser", False, "balanced", "Firefox offers balanced, library answers, complete descriptions",
         dtls_role=w.DtlsRole.SERVER)


def test_library_offers_max_bundle_firefox_answers_trickle():
    call("library", True, "max-bundle", "library offers max-bundle (video bundle-only), Firefox answers, trickle",
         bundle_policy=w.BundlePolicy.MAX_BUNDLE)


def test_library_offers_balanced_firefox_answers_complete():
    call("library", False, "balanced", "library offers balanced, Firefox answers, complete descriptions")


# -- data channels (tests/interop/datachannels.py) --------------------------------------------

def data_call(offerer, scenario, **kw):
    from datachannels import run_data
    return run_data(Firefox, offerer, peer="Firefox ESR 153", scenario=scenario, local_address=LIBRARY_ADDR,
                    prefix=PREFIX, **kw)


def test_data_channels_library_offers_data_only_firefox():
    data_call("library", "data only: library offers, Firefox answers")


def test_data_channels_with_media_firefox_offers_library_dtls_client():
    data_call("browser", "media + data: Firefox offers, library answers as DTLS client", dtls_role=w.DtlsRole.CLIENT,
              media=True)
