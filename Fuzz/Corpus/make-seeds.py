#!/usr/bin/env python3
"""Writes the fuzzers' seed inputs into Fuzz/Corpus/STUN and Fuzz/Corpus/SIP (committed; run again
after changing this file). STUN: the four RFC 5769 vectors, read from Tests/STUNTests/RFC5769Fixtures.swift,
a Binding request, a ChannelData datagram, and TURN exchanges as TCP streams whose MESSAGE-INTEGRITY is a
placeholder (FuzzSTUN re-signs requests of known users). SIP: RFC 4475 messages, a response, a pipelined
stream with keep-alives, and a list of URIs and header values."""
import pathlib
import re
import struct
import zlib

ROOT = pathlib.Path(__file__).resolve().parents[2]
STUN = ROOT / "Fuzz/Corpus/STUN"
SIP = ROOT / "Fuzz/Corpus/SIP"
COOKIE = 0x2112A442


def attribute(kind, value):
    return struct.pack("!HH", kind, len(value)) + value + b"\0" * (-len(value) % 4)


def xor_address(ip, port):
    address = bytes(a ^ b for a, b in zip(bytes(ip), struct.pack("!I", COOKIE)))
    return struct.pack("!BBH", 0, 1, port ^ (COOKIE >> 16)) + address


def stun(kind, transaction, attributes, integrity=None, fingerprint=False):
    """A STUN message; `integrity` is 0x0008 (MESSAGE-INTEGRITY) or 0x001C (-SHA256), all zeros."""
    body = b"".join(attribute(k, v) for k, v in attributes)
    if integrity:
        body += attribute(integrity, bytes(20 if integrity == 0x0008 else 32))
    if fingerprint:
        head = struct.pack("!HHI", kind, len(body) + 8, COOKIE) + transaction
        crc = (zlib.crc32(head + body) ^ 0x5354554E) & 0xFFFFFFFF
        body += attribute(0x8028, struct.pack("!I", crc))
    return struct.pack("!HHI", kind, len(body), COOKIE) + transaction + body


def channel_data(channel, payload, stream):
    return struct.pack("!HH", channel, len(payload)) + payload + (b"\0" * (-len(payload) % 4) if stream else b"")


def credentials(user):
    return [(0x0006, user.encode()), (0x0014, b"fuzz.example"), (0x0015, b"placeholder-nonce")]


def write(folder, name, data):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data)


fixtures = (ROOT / "Tests/STUNTests/RFC5769Fixtures.swift").read_text()
for name, swift in [("sampleRequest", "rfc5769-request"), ("ipv4Response", "rfc5769-ipv4-response"),
                    ("ipv6Response", "rfc5769-ipv6-response"), ("longTermRequest", "rfc5769-long-term")]:
    block = re.search(r"static let %s: \[UInt8\] = \[(.*?)\n    \]" % name, fixtures, re.S).group(1)
    write(STUN, swift + ".bin", bytes(int(h, 16) for h in re.findall(r"0x([0-9a-fA-F]{2})\b", re.sub(r"//.*", "", block))))

peer = ([1, 1, 1, 1], 5000)
tid = lambda n: bytes([n]) * 12
write(STUN, "binding.bin", stun(0x0001, tid(1), [(0x8022, b"fuzz")], fingerprint=True))
write(STUN, "channeldata.bin", channel_data(0x4000, b"hello", stream=False))
write(STUN, "turn-session.bin", b"".join([
    stun(0x0003, tid(2), [(0x0019, bytes([17, 0, 0, 0]))] + credentials("alice"), 0x0008, True),
    stun(0x0008, tid(3), [(0x0012, xor_address(*peer))] + credentials("alice"), 0x0008),
    stun(0x0009, tid(4), [(0x000C, bytes([0x40, 0, 0, 0])), (0x0012, xor_address(*peer))] + credentials("alice"),
         0x0008),
    channel_data(0x4000, b"hello", stream=True),
    stun(0x0016, tid(5), [(0x0012, xor_address(*peer)), (0x0013, b"payload")]),
    stun(0x0004, tid(6), [(0x000D, struct.pack("!I", 0))] + credentials("alice"), 0x0008),
]))
write(STUN, "turn-rest-even-port.bin", b"".join([
    stun(0x0003, tid(7), [(0x0019, bytes([17, 0, 0, 0])), (0x0018, bytes([0x80])), (0x001A, bytes([20]))]
         + credentials("1800000000:carol"), 0x001C),
    stun(0x0003, tid(8), [(0x0019, bytes([17, 0, 0, 0])), (0x0022, bytes(8))] + credentials("alice"), 0x0008),
]))


def crlf(text):
    return text.replace("\n", "\r\n").encode()


SDP = "v=0\no=mhandley 29739 7272939 IN IP4 192.0.2.3\ns=-\nc=IN IP4 192.0.2.4\nt=0 0\nm=audio 49217 RTP/AVP 0 12\n"
write(SIP, "wsinv.sip", crlf("""INVITE sip:vivekg@chair-dnrc.example.com;unknownparam SIP/2.0
TO :
 sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n
from   : "J Rosenberg \\\\\\""       <sip:jdrosen@example.com>
  ;
  tag = 98asjd8
MaX-fOrWaRdS: 0068
Call-ID: wsinv.ndaksdj@192.0.2.1
Content-Length   : %d
cseq: 0009
  INVITE
Via  : SIP  /   2.0
 /UDP
    192.0.2.2;branch=390skdjuw
s :
NewFangledHeader:   newfangled value
 continued newfangled value
UnknownHeaderWithUnusualValue: ;;,,;;,;
Content-Type: application/sdp
Route:
 <sip:services.example.com;lr;unknownwith=value;unknown-no-value>
v:  SIP  / 2.0  / TCP     spindle.example.com   ;
  branch  =   z9hG4bK9ikj8  ,
 SIP  /    2.0   / UDP  192.168.255.111   ; branch=
 z9hG4bK30239
m:"Quoted string \\"\\"" <sip:jdrosen@example.com> ; newparam =
      newvalue ;
  secondparam ; q = 0.33

""" % len(crlf(SDP)) + SDP))
write(SIP, "escnull.sip", crlf("""REGISTER sip:example.com SIP/2.0
To: sip:null-%00-null@example.com
From: sip:null-%00-null@example.com;tag=839923423
Max-Forwards: 70
Call-ID: escnull.39203ndfvkjdasfkq3w4otrq0adsfdfnavd
CSeq: 14398234 REGISTER
Via: SIP/2.0/UDP host5.example.com;branch=z9hG4bKkdjuw;rport
Contact: <sip:%00@host5.example.com>;expires=3600;+sip.instance="<urn:uuid:00000000-0000-1000-8000-000A95A0E128>"
Contact: <sip:%00%00@host5.example.com>;reg-id=1
Path: <sip:edge.example.net;lr;ob>
Supported: path, outbound
L:0

"""))
write(SIP, "ringing.sip", crlf("""SIP/2.0 180 Ringing
Via: SIP/2.0/UDP 192.0.2.105;branch=z9hG4bK2398ndaoe;rport=5060;received=192.0.2.9
Call-ID: a@b
CSeq: 35 INVITE
From: <sip:user@example.com>;tag=39ansfi3
To: <sip:user@example.edu>;tag=902jndnke3
Record-Route: <sip:p1.example.com;lr>, <sips:[2001:db8::1]:5061;transport=tls;lr>
Contact: *
l: 0

"""))
write(SIP, "stream.sip", b"\r\n\r\n" + crlf("""OPTIONS sips:bob@example.com:5061;transport=ws SIP/2.0
Via: SIP/2.0/WSS df7jal23ls0d.invalid;branch=z9hG4bKasudf;rport
To: <sips:bob@example.com>
From: "Alice" <sips:alice@example.com>;tag=1
Call-ID: stream.1
CSeq: 1 OPTIONS
Max-Forwards: 70
Content-Length: 0

""") + b"\r\n" + crlf("""MESSAGE sip:bob@example.com SIP/2.0
Via: SIP/2.0/TCP client.example.com:5060;branch=z9hG4bK74bf9
Route: <sip:edge.example.com;lr>
To: sip:bob@example.com
From: sip:alice@example.com;tag=2
Call-ID: stream.2
CSeq: 2 MESSAGE
Max-Forwards: 1
Content-Type: text/plain;charset=utf-8
Content-Length: 5

""") + b"hello")
write(SIP, "uris.txt", b"\n".join([
    b"sips:alice:secret@[2001:db8::1]:5061;transport=tls;lr;maddr=192.0.2.1;ttl=15?subject=hi&x=%20y",
    b"sip:%61lice@AtLanTa.CoM;Transport=udp;user=phone;method=INVITE",
    b"tel:+1-201-555-0123;phone-context=example.com",
    b"\"Bob \\\"B\\\"\" <sip:bob@biloxi.com:5060;ob>;tag=a6c85cf;q=0.7;expires=60",
    b"SIP/2.0/UDP [::1]:5060;branch=z9hG4bK776asdhds;received=10.0.0.1;rport=5062;maddr=x.example;ttl=1",
    b"4711 INVITE",
    b"multipart/mixed; boundary=\"unique-boundary-1\"",
]) + b"\n")
