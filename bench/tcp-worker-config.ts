/** Where the TCP workers (bench/tcp-worker.ts) sit: addresses and devices the orchestrator shares with them. */

/** The direct stack's TAP; the kernel's side is in the worker's namespace. */
export const DIRECT_TAP = { device: "mtapt0", kernel: "10.81.0.1", address: "10.81.0.2", prefixLength: 24 } as const;

/** The socket stack's veth: the worker's end, and the peer namespace's kernel. */
export const SOCKET_VETH = { device: "veth-s", peerDevice: "veth-k", kernel: "10.82.0.1", address: "10.82.0.2", prefixLength: 24 } as const;
