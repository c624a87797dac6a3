#!/usr/bin/env python3
"""A frame generator for the benchmarks: the kernel's AF_PACKET TX ring, driven from Python.

The kernel has no pktgen module here, so frames are generated the way a fast userspace sender does
it without C: a PACKET_TX_RING (TPACKET_V2) mapped into this process holds `--slots` copies of one
frame; each round marks every slot "send request" (one strided slice assignment, no per-frame Python
work) and one send() makes the kernel transmit them all, bypassing the qdisc. Frames leave through
`--dev` exactly as the kernel's own traffic would: into a TAP (to the process reading it) or into
a veth (to its peer namespace). A full TAP queue drops frames silently (the device's tx_dropped).

Usage: pktgen.py --dev IFACE --size BYTES --seconds S [--slots N]
Prints {"ready": true} when it starts sending, then, when done (time up, or SIGTERM),
{"sent": frames handed to the kernel, "seconds": elapsed}, each on its own line.
"""
import argparse
import errno
import json
import mmap
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dev", required=True)
    parser.add_argument("--size", type=int, required=True)
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--slots", type=int, default=1024)
    args = parser.parse_args()

    stop = False

    def on_term(_signum, _frame):
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)

    frame_size = 1 << (DATA_OFFSET + args.size - 1).bit_length()  # a power of two >= header + data
    frame_size = max(frame_size, 128)
    block_size = max(frame_size, PAGE)
    frames_per_block = block_size // frame_size
    block_nr = max(1, args.slots // frames_per_block)
    frame_nr = block_nr * frames_per_block

    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
    s.setsockopt(SOL_PACKET, PACKET_VERSION, TPACKET_V2)
    s.setsockopt(SOL_PACKET, PACKET_QDISC_BYPASS, 1)
    s.setsockopt(SOL_PACKET, PACKET_LOSS, 1)
    s.setsockopt(SOL_PACKET, PACKET_TX_RING, struct.pack("IIII", block_size, block_nr, frame_size, frame_nr))
    s.bind((args.dev, 0))
    ring = mmap.mmap(s.fileno(), block_size * block_nr, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)

    # One frame: to a MAC that is nobody's, from a locally administered one, with the IEEE 802
    # local experimental EtherType, so that receivers count it and nothing answers it.
    frame = bytearray(args.size)
    frame[0:6] = bytes.fromhex("020000000099")
    frame[6:12] = bytes.fromhex("020000000098")
    frame[12:14] = b"\x88\xb5"
    for i in range(frame_nr):
        base = i * frame_size
        struct.pack_into("III", ring, base, 0, args.size, args.size)
        ring[base + DATA_OFFSET : base + DATA_OFFSET + args.size] = frame

    print(json.dumps({"ready": True}), flush=True)
    request = bytes([TP_STATUS_SEND_REQUEST]) * frame_nr
    total = block_size * block_nr
    sent = 0
    start = time.monotonic()
    deadline = start + args.seconds
    while not stop and time.monotonic() < deadline:
        ring[0:total:frame_size] = request  # byte 0 of each slot's tp_status
        try:
            s.send(b"")  # blocks until every requested slot has been handed to the device
        except InterruptedError:
            pass
        except OSError as e:
            # ENOBUFS: the device dropped a frame (a TAP whose queue is full, because its reader
            # is slower than this): the rest of the round is abandoned; keep offering.
            if e.errno != errno.ENOBUFS:
                raise
        statuses = ring[0:total:frame_size]
        if statuses.count(TP_STATUS_WRONG_FORMAT):
            raise SystemExit("pktgen: the kernel refused the frame format")
        sent += statuses.count(0)
    elapsed = time.monotonic() - start
    print(json.dumps({"sent": sent, "seconds": elapsed}), flush=True)


if __name__ == "__main__":
    main()
