//! STUN as the media receive thread reads it before any session sees it: a shared port's
//! attribution of connectivity checks (USERNAME) and their authentication (MESSAGE-INTEGRITY),
//! and answers to our STUN server queries. Arbitrary bytes must never panic; a check that
//! authenticates names a ufrag without a colon in it.
#![no_main]
use libfuzzer_sys::fuzz_target;
use webrtc_session::ice::stun;

fuzz_target!(|data: &[u8]| {
    let _ = stun::transaction_id(data);
    let _ = stun::parse_binding_success(data);
    if let Some(ufrag) = stun::request_local_ufrag(data) {
        assert!(!ufrag.contains(':'));
    }
    let _ = stun::binding_class(data);
    let key = webrtc_session::hmac::HmacSha1::new(b"the-local-password-24chr");
    let _ = stun::verify_integrity(data, &key);
});
