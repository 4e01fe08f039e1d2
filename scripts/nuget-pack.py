#!/usr/bin/env python3
"""Builds build/nuget/WebRtcSession.<version>.nupkg (`make nuget`): the managed assembly under
lib/net45 (Mono's mcs builds for the .NET Framework 4.x profile; .NET 6+ can compile the same
sources, bindings/csharp/src), the native library under runtimes/linux-x64/native (where
.NET's loader looks for it), the nuspec, and the OPC parts a .nupkg carries. It is not
published from here. Usage: scripts/nuget-pack.py VERSION DLL SO OUT_DIR"""

import sys
import zipfile
from pathlib import Path

version, dll, so, out = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4])
nuspec = f"""<?xml version="1.0" encoding="utf-8"?>
<package xmlns="http://schemas.microsoft.com/packaging/2013/05/nuspec.xsd">
  <metadata>
    <id>WebRtcSession</id>
    <version>{version}</version>
    <authors>webrtc-session</authors>
    <description>A WebRTC session (RTCPeerConnection) in a native Rust core: ICE, DTLS-SRTP, RTP/RTCP, data channels; SIPSorcery-shaped C# API.</description>
    <license type="expression">MIT OR Apache-2.0</license>
    <tags>webrtc rtp srtp dtls ice sctp datachannel</tags>
    <readme>README.md</readme>
  </metadata>
</package>
"""
content_types = """<?xml version="1.0" encoding="utf-8"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">
  <Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml" />
  <Default Extension="nuspec" ContentType="application/octet" />
  <Default Extension="dll" ContentType="application/octet" />
  <Default Extension="so" ContentType="application/octet" />
  <Default Extension="md" ContentType="application/octet" />
</Types>
"""
rels = """<?xml version="1.0" encoding="utf-8"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
  <Relationship Type="http://schemas.microsoft.com/packaging/2010/07/manifest" Target="/WebRtcSession.nuspec" Id="R0" />
</Relationships>
"""
out.mkdir(parents=True, exist_ok=True)
pkg = out / f"WebRtcSession.{version}.nupkg"
readme = Path(__file__).resolve().parents[1] / "bindings" / "csharp" / "README.md"
with zipfile.ZipFile(pkg, "w", zipfile.ZIP_DEFLATED) as z:
    z.writestr("WebRtcSession.nuspec", nuspec)
    z.writestr("[Content_Types].xml", content_types)
    z.writestr("_rels/.rels", rels)
    z.write(dll, "lib/net45/WebRtcSession.dll")
    z.write(so, "runtimes/linux-x64/native/libwebrtc_session.so")
    z.write(readme, "README.md")
print(pkg)
