"""ctypes declarations of the C ABI (include/webrtc_session.h), and how the library is found."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from pathlib import Path

c_session_p = ctypes.c_void_p
c_config_p = ctypes.c_void_p

RTP_CB = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_uint32, ctypes.POINTER(ctypes.c_uint8), ctypes.c_size_t)
RTCP_CB = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.POINTER(ctypes.c_uint8), ctypes.c_size_t)
CANDIDATE_CB = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p)
STATE_CB = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_uint32)
TRACK_CB = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_uint32, ctypes.c_uint32, ctypes.c_char_p)
KEYFRAME_CB = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_uint32)
BANDWIDTH_CB = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_uint64)
LOG_CB = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_uint32, ctypes.c_uint32, ctypes.c_char_p)


class EVENT(ctypes.Structure):
    """wrs_event (polling mode)."""
    _fields_ = [
        ("kind", ctypes.c_uint32),
        ("track", ctypes.c_uint32),
        ("state", ctypes.c_uint32),
        ("is_text", ctypes.c_bool),
        ("value", ctypes.c_uint64),
        ("channel", ctypes.c_void_p),
        ("data", ctypes.POINTER(ctypes.c_uint8)),
        ("len", ctypes.c_size_t),
        ("text", ctypes.c_char_p),
        ("mid", ctypes.c_char_p),
        ("is_keyframe", ctypes.c_bool),
        ("lost_packets", ctypes.c_uint32),
        ("ssrc", ctypes.c_uint32),
    ]


class FRAME(ctypes.Structure):
    """wrs_frame."""
    _fields_ = [
        ("track", ctypes.c_uint32),
        ("ssrc", ctypes.c_uint32),
        ("codec", ctypes.c_uint32),
        ("timestamp", ctypes.c_uint32),
        ("keyframe", ctypes.c_bool),
        ("lost_packets", ctypes.c_uint32),
        ("data", ctypes.POINTER(ctypes.c_uint8)),
        ("len", ctypes.c_size_t),
    ]


FRAME_CB = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.POINTER(FRAME))
c_channel_p = ctypes.c_void_p
c_channel_init_p = ctypes.c_void_p
DATA_CHANNEL_CB = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p)
CHANNEL_EVENT_CB = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p)
CHANNEL_MESSAGE_CB = ctypes.CFUNCTYPE(
    None, ctypes.c_void_p, ctypes.c_void_p, ctypes.POINTER(ctypes.c_uint8), ctypes.c_size_t, ctypes.c_bool
)
CHANNEL_ERROR_CB = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_char_p)

_LIB_NAME = "libwebrtc_session.so"


def _candidates() -> list[str]:
    """Where the shared library is looked for, in order."""
    found = []
    env = os.environ.get("WEBRTC_SESSION_LIB")
    if env:
        found.append(env)
    here = Path(__file__).resolve().parent
    found.append(str(here / _LIB_NAME))  # carried by the package (wheel, pip install)
    found.append(str(here.parents[2] / "target" / "release" / _LIB_NAME))  # a source checkout
    for prefix in ("/usr/local/lib", "/usr/lib"):  # `make install` (PREFIX defaults to /usr/local)
        found.append(f"{prefix}/{_LIB_NAME}")
    system = ctypes.util.find_library("webrtc_session")
    if system:
        found.append(system)
    return found


loaded_from = ""


def load() -> ctypes.CDLL:
    errors = []
    for path in _candidates():
        if os.path.sep in path and not os.path.exists(path):
            errors.append(f"{path}: not found")
            continue
        try:
            lib = ctypes.CDLL(path)
            global loaded_from
            loaded_from = path
            return lib
        except OSError as e:
            errors.append(f"{path}: {e}")
    raise OSError(
        "cannot load libwebrtc_session (set WEBRTC_SESSION_LIB to its path; run `make lib`): " + "; ".join(errors)
    )


lib = load()

_R = ctypes.c_int32
_SIGNATURES = {
    "wrs_version": (ctypes.c_char_p, []),
    "wrs_last_error_message": (ctypes.c_char_p, []),
    "wrs_set_log_callback": (_R, [LOG_CB, ctypes.c_void_p, ctypes.c_uint32]),
    "wrs_session_use_polling": (_R, [c_session_p, ctypes.POINTER(ctypes.c_int32)]),
    "wrs_session_next_event": (_R, [c_session_p, ctypes.POINTER(EVENT)]),
    "wrs_result_name": (ctypes.c_char_p, [ctypes.c_int32]),
    "wrs_string_free": (None, [ctypes.c_void_p]),
    "wrs_config_new": (_R, [ctypes.POINTER(c_config_p)]),
    "wrs_config_free": (None, [c_config_p]),
    "wrs_config_add_ice_server": (_R, [c_config_p, ctypes.c_char_p]),
    "wrs_config_add_local_address": (_R, [c_config_p, ctypes.c_char_p]),
    "wrs_config_set_port_range": (_R, [c_config_p, ctypes.c_uint16, ctypes.c_uint16]),
    "wrs_config_set_shared_port": (_R, [c_config_p, ctypes.c_uint16]),
    "wrs_config_set_certificate_pem_files": (_R, [c_config_p, ctypes.c_char_p, ctypes.c_char_p]),
    "wrs_config_set_certificate_pem": (_R, [c_config_p, ctypes.c_char_p, ctypes.c_char_p]),
    "wrs_config_set_srtp_profiles": (_R, [c_config_p, ctypes.POINTER(ctypes.c_uint32), ctypes.c_size_t]),
    "wrs_config_set_dtls_role": (_R, [c_config_p, ctypes.c_uint32]),
    "wrs_config_set_bundle_policy": (_R, [c_config_p, ctypes.c_uint32]),
    "wrs_config_set_rtcp_reports": (_R, [c_config_p, ctypes.c_bool]),
    "wrs_config_set_keyframe_requests": (_R, [c_config_p, ctypes.c_bool]),
    "wrs_config_set_nack": (_R, [c_config_p, ctypes.c_bool]),
    "wrs_config_set_transport_cc": (_R, [c_config_p, ctypes.c_bool]),
    "wrs_config_set_nack_history": (_R, [c_config_p, ctypes.c_uint32, ctypes.c_uint32]),
    "wrs_config_set_bandwidth_estimate": (_R, [c_config_p, ctypes.c_uint64, ctypes.c_uint64, ctypes.c_uint64]),
    "wrs_config_set_pacer": (_R, [c_config_p, ctypes.c_bool, ctypes.c_uint64]),
    "wrs_config_set_jitter_buffer": (_R, [c_config_p, ctypes.c_uint32, ctypes.c_bool]),
    "wrs_config_set_max_remote_candidates": (_R, [c_config_p, ctypes.c_uint32]),
    "wrs_config_set_ice_timeouts": (_R, [c_config_p, ctypes.c_uint32, ctypes.c_uint32, ctypes.c_uint32]),
    "wrs_session_new": (_R, [c_config_p, ctypes.POINTER(c_session_p)]),
    "wrs_session_close": (_R, [c_session_p]),
    "wrs_session_free": (None, [c_session_p]),
    "wrs_session_add_track": (
        _R,
        [c_session_p, ctypes.c_uint32, ctypes.POINTER(ctypes.c_uint32), ctypes.c_size_t, ctypes.c_uint32,
         ctypes.POINTER(ctypes.c_uint32)],
    ),
    "wrs_session_create_offer": (_R, [c_session_p, ctypes.POINTER(ctypes.c_void_p)]),
    "wrs_session_create_answer": (_R, [c_session_p, ctypes.POINTER(ctypes.c_void_p)]),
    "wrs_session_set_local_description": (_R, [c_session_p, ctypes.c_uint32, ctypes.c_char_p]),
    "wrs_session_set_remote_description": (_R, [c_session_p, ctypes.c_uint32, ctypes.c_char_p]),
    "wrs_session_local_description": (_R, [c_session_p, ctypes.POINTER(ctypes.c_void_p)]),
    "wrs_session_remote_description": (_R, [c_session_p, ctypes.POINTER(ctypes.c_void_p)]),
    "wrs_session_add_remote_candidate": (_R, [c_session_p, ctypes.c_char_p]),
    "wrs_session_send_rtp": (_R, [c_session_p, ctypes.c_uint32, ctypes.c_char_p, ctypes.c_size_t]),
    "wrs_session_send_media": (
        _R, [c_session_p, ctypes.c_uint32, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint32, ctypes.c_bool]
    ),
    "wrs_session_send_rtcp": (_R, [c_session_p, ctypes.c_char_p, ctypes.c_size_t]),
    "wrs_session_on_rtp": (_R, [c_session_p, RTP_CB, ctypes.c_void_p]),
    "wrs_session_on_frame": (_R, [c_session_p, FRAME_CB, ctypes.c_void_p]),
    "wrs_session_receive_frames": (_R, [c_session_p, ctypes.c_bool]),
    "wrs_session_on_rtcp": (_R, [c_session_p, RTCP_CB, ctypes.c_void_p]),
    "wrs_session_on_ice_candidate": (_R, [c_session_p, CANDIDATE_CB, ctypes.c_void_p]),
    "wrs_session_on_connection_state": (_R, [c_session_p, STATE_CB, ctypes.c_void_p]),
    "wrs_session_on_ice_state": (_R, [c_session_p, STATE_CB, ctypes.c_void_p]),
    "wrs_session_on_gathering_state": (_R, [c_session_p, STATE_CB, ctypes.c_void_p]),
    "wrs_session_on_signaling_state": (_R, [c_session_p, STATE_CB, ctypes.c_void_p]),
    "wrs_session_on_track": (_R, [c_session_p, TRACK_CB, ctypes.c_void_p]),
    "wrs_session_on_keyframe_request": (_R, [c_session_p, KEYFRAME_CB, ctypes.c_void_p]),
    "wrs_session_on_bandwidth_estimate": (_R, [c_session_p, BANDWIDTH_CB, ctypes.c_void_p]),
    "wrs_session_bandwidth_estimate": (_R, [c_session_p, ctypes.POINTER(ctypes.c_uint64)]),
    "wrs_session_request_keyframe": (_R, [c_session_p, ctypes.c_uint32]),
    "wrs_session_round_trip_time": (_R, [c_session_p, ctypes.POINTER(ctypes.c_double)]),
    "wrs_session_get_stats": (_R, [c_session_p, ctypes.POINTER(ctypes.c_void_p)]),
    "wrs_session_connection_state": (_R, [c_session_p, ctypes.POINTER(ctypes.c_uint32)]),
    "wrs_session_ice_state": (_R, [c_session_p, ctypes.POINTER(ctypes.c_uint32)]),
    "wrs_session_gathering_state": (_R, [c_session_p, ctypes.POINTER(ctypes.c_uint32)]),
    "wrs_session_signaling_state": (_R, [c_session_p, ctypes.POINTER(ctypes.c_uint32)]),
    "wrs_session_failure_reason": (_R, [c_session_p, ctypes.POINTER(ctypes.c_void_p)]),
    "wrs_session_selected_candidate_pair": (
        _R, [c_session_p, ctypes.POINTER(ctypes.c_void_p), ctypes.POINTER(ctypes.c_void_p)]
    ),
    "wrs_session_local_fingerprint": (_R, [c_session_p, ctypes.POINTER(ctypes.c_void_p)]),
    "wrs_session_remote_fingerprint": (_R, [c_session_p, ctypes.POINTER(ctypes.c_void_p)]),
    "wrs_session_dtls_version": (_R, [c_session_p, ctypes.POINTER(ctypes.c_void_p)]),
    "wrs_session_srtp_profile": (_R, [c_session_p, ctypes.POINTER(ctypes.c_uint32)]),
    "wrs_session_dtls_role": (_R, [c_session_p, ctypes.POINTER(ctypes.c_uint32)]),
    "wrs_session_track_mid": (_R, [c_session_p, ctypes.c_uint32, ctypes.POINTER(ctypes.c_void_p)]),
    "wrs_session_track_ssrc": (_R, [c_session_p, ctypes.c_uint32, ctypes.POINTER(ctypes.c_uint32)]),
    "wrs_session_track_payload_type": (_R, [c_session_p, ctypes.c_uint32, ctypes.POINTER(ctypes.c_uint8)]),
    "wrs_session_send_frame": (_R, [c_session_p, ctypes.c_uint32, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint32]),
    "wrs_session_set_send_codec": (_R, [c_session_p, ctypes.c_uint32, ctypes.c_uint8]),
    "wrs_session_track_codec": (_R, [c_session_p, ctypes.c_uint32, ctypes.POINTER(ctypes.c_uint32), ctypes.POINTER(ctypes.c_uint8), ctypes.POINTER(ctypes.c_uint32)]),
    "wrs_session_stat": (_R, [c_session_p, ctypes.c_uint32, ctypes.POINTER(ctypes.c_uint64)]),
    "wrs_session_on_data_channel": (_R, [c_session_p, DATA_CHANNEL_CB, ctypes.c_void_p]),
    "wrs_session_create_data_channel": (
        _R, [c_session_p, ctypes.c_char_p, c_channel_init_p, ctypes.POINTER(c_channel_p)]
    ),
    "wrs_data_channel_init_new": (_R, [ctypes.POINTER(c_channel_init_p)]),
    "wrs_data_channel_init_free": (None, [c_channel_init_p]),
    "wrs_data_channel_init_set_ordered": (_R, [c_channel_init_p, ctypes.c_bool]),
    "wrs_data_channel_init_set_max_retransmits": (_R, [c_channel_init_p, ctypes.c_uint16]),
    "wrs_data_channel_init_set_max_packet_life_time": (_R, [c_channel_init_p, ctypes.c_uint16]),
    "wrs_data_channel_init_set_protocol": (_R, [c_channel_init_p, ctypes.c_char_p]),
    "wrs_data_channel_init_set_negotiated_id": (_R, [c_channel_init_p, ctypes.c_uint16]),
    "wrs_data_channel_init_set_priority": (_R, [c_channel_init_p, ctypes.c_uint16]),
    "wrs_data_channel_free": (None, [c_channel_p]),
    "wrs_data_channel_on_open": (_R, [c_channel_p, CHANNEL_EVENT_CB, ctypes.c_void_p]),
    "wrs_data_channel_on_message": (_R, [c_channel_p, CHANNEL_MESSAGE_CB, ctypes.c_void_p]),
    "wrs_data_channel_on_close": (_R, [c_channel_p, CHANNEL_EVENT_CB, ctypes.c_void_p]),
    "wrs_data_channel_on_buffered_amount_low": (_R, [c_channel_p, CHANNEL_EVENT_CB, ctypes.c_void_p]),
    "wrs_data_channel_on_error": (_R, [c_channel_p, CHANNEL_ERROR_CB, ctypes.c_void_p]),
    "wrs_data_channel_send": (_R, [c_channel_p, ctypes.c_char_p, ctypes.c_size_t]),
    "wrs_data_channel_send_text": (_R, [c_channel_p, ctypes.c_char_p]),
    "wrs_data_channel_close": (_R, [c_channel_p]),
    "wrs_data_channel_ready_state": (_R, [c_channel_p, ctypes.POINTER(ctypes.c_uint32)]),
    "wrs_data_channel_label": (_R, [c_channel_p, ctypes.POINTER(ctypes.c_void_p)]),
    "wrs_data_channel_protocol": (_R, [c_channel_p, ctypes.POINTER(ctypes.c_void_p)]),
    "wrs_data_channel_id": (_R, [c_channel_p, ctypes.POINTER(ctypes.c_uint16)]),
    "wrs_data_channel_ordered": (_R, [c_channel_p, ctypes.POINTER(ctypes.c_bool)]),
    "wrs_data_channel_negotiated": (_R, [c_channel_p, ctypes.POINTER(ctypes.c_bool)]),
    "wrs_data_channel_max_retransmits": (_R, [c_channel_p, ctypes.POINTER(ctypes.c_int32)]),
    "wrs_data_channel_max_packet_life_time": (_R, [c_channel_p, ctypes.POINTER(ctypes.c_int32)]),
    "wrs_data_channel_buffered_amount": (_R, [c_channel_p, ctypes.POINTER(ctypes.c_size_t)]),
    "wrs_data_channel_set_buffered_amount_low_threshold": (_R, [c_channel_p, ctypes.c_size_t]),
}

for _name, (_restype, _argtypes) in _SIGNATURES.items():
    _f = getattr(lib, _name)
    _f.restype = _restype
    _f.argtypes = _argtypes


def take_string(p: ctypes.c_void_p) -> str:
    """Copies a library-allocated string and releases it."""
    try:
        return ctypes.string_at(p).decode("utf-8")
    finally:
        lib.wrs_string_free(p)
