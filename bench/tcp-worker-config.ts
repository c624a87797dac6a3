/** Where the TCP workers (bench/tcp-worker.ts) sit: addresses and devices the orchestrator shares with them. */

/**
 * The direct stack's TAP; the kernel's side is in the worker's namespace. IPv6 (the worker started
 * with --ipv6): static addresses, the stack's as `--ipv6=fd00:81::2/64` gives it.
 */
export const DIRECT_TAP = {
  device: "mtapt0",
  kernel: "10.81.0.1",
  address: "10.81.0.2",
  prefixLength: 24,
  kernel6: "fd00:81::1",
  address6: "fd00:81::2",
  prefixLength6: 64,
} as const;

/** The socket stack's veth: the worker's end, and the peer namespace's kernel. */
export const SOCKET_VETH = {
  device: "veth-s",
  peerDevice: "veth-k",
  kernel: "10.82.0.1",
  address: "10.82.0.2",
  prefixLength: 24,
  kernel6: "fd00:82::1",
  address6: "fd00:82::2",
  prefixLength6: 64,
} as const;
