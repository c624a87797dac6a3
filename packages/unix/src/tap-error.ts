/**
 * Why a TAP device could not be opened, in words that say what to do.
 *
 * The addon reports the failing system call and errno name; this maps them to the cause a user
 * can act on (load the module, get the capability, create the device, stop the other process).
 */

/** The step that failed: opening the clone device, or attaching it to the interface. */
export type TapSyscall = "open" | "ioctl(TUNSETIFF)" | string;

export class TapError extends Error {
  constructor(
    message: string,
    /** The errno name, e.g. "EBUSY" ("EINVALNAME" for a name the kernel would refuse). */
    readonly code: string,
    /** The interface the caller asked for. */
    readonly interfaceName: string,
    readonly syscall: TapSyscall,
  ) {
    super(message);
    this.name = "TapError";
  }
}

/** The message for a failure of `syscall` with errno name `code` while opening TAP `name` through `device`. */
export function tapErrorMessage(name: string, device: string, syscall: TapSyscall, code: string): string {
  const create = `create it with \`ip tuntap add dev ${name} mode tap\` (add \`user <name>\` to let that user open it without privileges)`;
  if (syscall === "open") {
    switch (code) {
      case "ENOENT":
      case "ENODEV":
      case "ENXIO":
        return (
          `cannot open TAP ${name}: ${device} does not exist: the kernel has no TUN/TAP support: ` +
          "load it with `modprobe tun` (in a container, pass the device in, e.g. `--device /dev/net/tun`)"
        );
      case "EACCES":
      case "EPERM":
        return `cannot open TAP ${name}: ${device} is not accessible: not permitted: run as root or grant CAP_NET_ADMIN (and read/write access to ${device}); ${create}`;
      default:
        return `cannot open TAP ${name}: opening ${device} failed with ${code}`;
    }
  }
  if (syscall === "ioctl(TUNSETIFF)") {
    switch (code) {
      case "EPERM":
      case "EACCES":
        return `cannot open TAP ${name}: not permitted: run as root or grant CAP_NET_ADMIN; ${create}`;
      case "EBUSY":
        return `cannot open TAP ${name}: ${name} is busy: another process has it open (a TAP serves one process: stop the other one or choose another interface)`;
      case "EINVAL":
        return `cannot open TAP ${name}: ${name} exists but is not a TAP device (it is a TUN device or another kind of interface): choose another interface name`;
      default:
        return `cannot open TAP ${name}: attaching to the device (TUNSETIFF) failed with ${code}`;
    }
  }
  return `cannot open TAP ${name}: ${syscall} failed with ${code}`;
}

/** The reason an interface name cannot name a TAP, or undefined when it can. */
export function invalidTapName(name: string): string | undefined {
  // IFNAMSIZ is 16 including the terminating NUL; '/' and whitespace are refused by the kernel.
  if (name.length === 0) return "an interface name cannot be empty";
  if (Buffer.byteLength(name) > 15) return `"${name}" is longer than the 15 bytes an interface name may have`;
  if (/[\s/:]/.test(name) || name === "." || name === "..") return `"${name}" is not a valid interface name`;
  return undefined;
}
