#!/usr/bin/env python3
"""A frame generator for the benchmarks: the kernel's AF_PACKET TX ring, driven from Python.

The kernel has no pktgen module here, so frames are generated the way a fast userspace sender does
it without C: a PACKET_TX_RING (TPACKET_V2) mapped into this process holds `slots` copies of one
frame; each round marks every slot "send request" (one strided slice assignment, no per-frame Python
work) and one send() makes the kernel transmit them all, bypassing the qdisc. Frames leave through
the device exactly as the kernel's own traffic would: into a TAP (to the process reading it) or into
a veth (to its peer namespace). A full TAP queue drops frames silently (the device's tx_dropped).

Two kinds of frame:
- by default, to a MAC that is nobody's, with the IEEE 802 local experimental EtherType 0x88b5, so
  that receivers count it and nothing answers it (the device path alone);
- with `udp`, a valid Ethernet II / IPv4 / UDP frame (header and UDP checksums computed) from
  `src_mac`/`src_ip` to `dst_mac`/`dst_ip`:`dst_port`, for a stack that listens on that port.

Serve mode (what the benchmarks use, because starting Python costs a few hundred milliseconds on a
busy machine): `pktgen.py --serve` reads one JSON request a line on stdin,
  {"dev": "tap0", "size": 60, "seconds": 3, "udp": {...}}   ("udp" optional, see `udp_frame`)
prints {"ready": true}, sends until `seconds` have passed or a line "stop" arrives, then prints
{"sent": frames handed to the kernel, "seconds": elapsed}. It exits at the end of stdin.

One-shot mode: pktgen.py --dev IFACE --size BYTES --seconds S [--slots N]; SIGTERM stops it early.
"""
import argparse
import errno
import json
import mmap
import os
import select
import signal
import socket
import struct
import time

SOL_PACKET = 263
PACKET_VERSION = 10
PACKET_TX_RING = 13
PACKET_LOSS = 14
PACKET_QDISC_BYPASS = 20
TPACKET_V2 = 1
TP_STATUS_SEND_REQUEST = 1
TP_STATUS_WRONG_FORMAT = 4
# struct tpacket2_hdr is 32 bytes; TX data starts at TPACKET2_HDRLEN - sizeof(struct sockaddr_ll).
DATA_OFFSET = 32
PAGE = mmap.PAGESIZE
DEFAULT_SLOTS = 1024


def internet_checksum(data: bytes, initial: int = 0) -> int:
    if len(data) % 2:
        data += b"\x00"
    total = initial + sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def udp_frame(size: int, udp: dict) -> bytearray:
    """A `size`-byte Ethernet II frame holding one IPv4/UDP datagram (DF set, TTL 64)."""
    payload_length = size - 14 - 20 - 8
    if payload_length < 0:
        raise SystemExit(f"pktgen: a UDP frame needs at least 42 bytes, not {size}")
    src_ip = socket.inet_aton(udp["src_ip"])
    dst_ip = socket.inet_aton(udp["dst_ip"])
    src_port = int(udp.get("src_port", 9))
    dst_port = int(udp["dst_port"])
    payload = bytes(i & 0xFF for i in range(payload_length))
    udp_length = 8 + payload_length
    pseudo = src_ip + dst_ip + struct.pack("!BBH", 0, 17, udp_length)
    header = struct.pack("!HHHH", src_port, dst_port, udp_length, 0)
    checksum = internet_checksum(pseudo + header + payload) or 0xFFFF
    udp_bytes = struct.pack("!HHHH", src_port, dst_port, udp_length, checksum) + payload
    ip = bytearray(struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + udp_length, 1, 0x4000, 64, 17, 0, src_ip, dst_ip))
    struct.pack_into("!H", ip, 10, internet_checksum(bytes(ip)))
    ethernet = bytes.fromhex(udp["dst_mac"].replace(":", "")) + bytes.fromhex(udp["src_mac"].replace(":", "")) + b"\x08\x00"
    return bytearray(ethernet + ip + udp_bytes)


def anonymous_frame(size: int) -> bytearray:
    frame = bytearray(size)
    frame[0:6] = bytes.fromhex("020000000099")
    frame[6:12] = bytes.fromhex("020000000098")
    frame[12:14] = b"\x88\xb5"
    return frame


def send_frames(dev: str, frame: bytearray, seconds: float, slots: int, should_stop) -> dict:
    """Sends `frame` out of `dev` until `seconds` pass or `should_stop()`; returns the count."""
    size = len(frame)
    frame_size = 1 << (DATA_OFFSET + size - 1).bit_length()  # a power of two >= header + data
    frame_size = max(frame_size, 128)
    block_size = max(frame_size, PAGE)
    frames_per_block = block_size // frame_size
    block_nr = max(1, slots // frames_per_block)
    frame_nr = block_nr * frames_per_block

    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
    try:
        s.setsockopt(SOL_PACKET, PACKET_VERSION, TPACKET_V2)
        s.setsockopt(SOL_PACKET, PACKET_QDISC_BYPASS, 1)
        s.setsockopt(SOL_PACKET, PACKET_LOSS, 1)
        s.setsockopt(SOL_PACKET, PACKET_TX_RING, struct.pack("IIII", block_size, block_nr, frame_size, frame_nr))
        s.bind((dev, 0))
        ring = mmap.mmap(s.fileno(), block_size * block_nr, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        try:
            for i in range(frame_nr):
                base = i * frame_size
                struct.pack_into("III", ring, base, 0, size, size)
                ring[base + DATA_OFFSET : base + DATA_OFFSET + size] = frame

            print(json.dumps({"ready": True}), flush=True)
            request = bytes([TP_STATUS_SEND_REQUEST]) * frame_nr
            total = block_size * block_nr
            sent = 0
            start = time.monotonic()
            deadline = start + seconds
            while not should_stop() and time.monotonic() < deadline:
                ring[0:total:frame_size] = request  # byte 0 of each slot's tp_status
                try:
                    s.send(b"")  # blocks until every requested slot has been handed to the device
                except InterruptedError:
                    pass
                except OSError as e:
                    # ENOBUFS: the device dropped a frame (a TAP whose queue is full, because its
                    # reader is slower than this): the rest of the round is abandoned; keep offering.
                    if e.errno != errno.ENOBUFS:
                        raise
                statuses = ring[0:total:frame_size]
                if statuses.count(TP_STATUS_WRONG_FORMAT):
                    raise SystemExit("pktgen: the kernel refused the frame format")
                sent += statuses.count(0)
            return {"sent": sent, "seconds": time.monotonic() - start}
        finally:
            ring.close()
    finally:
        s.close()


class StdinLines:
    """Lines from fd 0 without Python's buffering, so that select() tells the truth about them."""

    def __init__(self) -> None:
        self.pending = b""
        self.ended = False

    def _fill(self) -> None:
        chunk = os.read(0, 65536)
        if chunk:
            self.pending += chunk
        else:
            self.ended = True

    def readline(self):
        """The next line, or None at the end of stdin."""
        while b"\n" not in self.pending and not self.ended:
            self._fill()
        if b"\n" not in self.pending:
            line, self.pending = self.pending, b""
            return line.decode() if line else None
        line, self.pending = self.pending.split(b"\n", 1)
        return line.decode()

    def has_line(self) -> bool:
        """Whether a whole line (or the end of stdin) is there, without blocking."""
        while b"\n" not in self.pending and not self.ended and select.select([0], [], [], 0)[0]:
            self._fill()
        return b"\n" in self.pending or self.ended


def serve() -> None:
    lines = StdinLines()

    def stop_requested() -> bool:
        # One poll per round of `slots` frames: cheap next to the send() it follows.
        if lines.has_line():
            lines.readline()
            return True
        return False

    while (line := lines.readline()) is not None:
        line = line.strip()
        if not line or line == "stop":
            continue
        request = json.loads(line)
        size = int(request["size"])
        frame = udp_frame(size, request["udp"]) if "udp" in request else anonymous_frame(size)
        result = send_frames(request["dev"], frame, float(request["seconds"]), int(request.get("slots", DEFAULT_SLOTS)), stop_requested)
        print(json.dumps(result), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--serve", action="store_true")
    parser.add_argument("--dev")
    parser.add_argument("--size", type=int)
    parser.add_argument("--seconds", type=float)
    parser.add_argument("--slots", type=int, default=DEFAULT_SLOTS)
    args = parser.parse_args()
    if args.serve:
        # Ctrl-C reaches the whole process group: end quietly, the orchestrator cleans up.
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        serve()
        return
    if args.dev is None or args.size is None or args.seconds is None:
        parser.error("--dev, --size and --seconds are required without --serve")

    stop = False

    def on_term(_signum, _frame):
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    print(json.dumps(send_frames(args.dev, anonymous_frame(args.size), args.seconds, args.slots, lambda: stop)), flush=True)


if __name__ == "__main__":
    main()
