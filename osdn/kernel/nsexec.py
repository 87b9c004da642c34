"""The fork helper that puts a program into a pod's view of the world, then execs it.

Run as `python -m osdn.kernel.nsexec --net PATH [--bind SRC:DST]... [--hostname NAME] -- ARGV...`
(built by `osdn.kernel.netns.view_argv`). It is a fresh single-threaded process, so entering
namespaces here is safe (no preexec_fn in a threaded parent). In order:
1. setns(2) into the network namespace at PATH;
2. unshare(2) a mount namespace (and a UTS namespace with --hostname) and make every mount in it
   private first, so nothing done here propagates back to the host;
3. remount /sys for the pod's network namespace (like `ip netns exec`: /sys/class/net lists the
   pod's links), bind-mount each SRC file over DST (the pod's /etc/resolv.conf and /etc/hosts) and
   set the hostname;
4. exec ARGV (exit 127 with one line on stderr if it does not exist).
Not pure: kernel calls only; the mounts vanish with the last process of the namespace.
"""

from __future__ import annotations

import ctypes
import os
import sys

CLONE_NEWNET, CLONE_NEWNS, CLONE_NEWUTS = 0x40000000, 0x00020000, 0x04000000
MS_BIND, MS_REC, MS_PRIVATE, MNT_DETACH = 4096, 16384, 1 << 18, 2
_libc = ctypes.CDLL(None, use_errno=True)


class Args:
    def __init__(self, argv: list[str]) -> None:
        self.net, self.hostname = "", ""
        self.binds: list[tuple[str, str]] = []
        rest = list(argv)
        while rest and rest[0] != "--":
            flag, value = rest[0], rest[1] if len(rest) > 1 else ""
            rest = rest[2:]
            if flag == "--net":
                self.net = value
            elif flag == "--hostname":
                self.hostname = value
            elif flag == "--bind":
                src, _, dst = value.partition(":")
                self.binds.append((src, dst))
            else:
                _die(f"unknown option {flag!r}", 2)
        self.command = rest[1:]


def _die(message: str, code: int = 126) -> None:
    sys.stderr.write(f"osdn: {message}\n")
    sys.stderr.flush()
    os._exit(code)


def _call(rc: int, what: str) -> None:
    if rc != 0:
        _die(f"{what}: {os.strerror(ctypes.get_errno())}")


def enter(args: Args) -> None:
    fd = os.open(args.net, os.O_RDONLY)
    _call(_libc.setns(fd, CLONE_NEWNET), f"enter network namespace {args.net}")
    os.close(fd)
    _call(_libc.unshare(CLONE_NEWNS | (CLONE_NEWUTS if args.hostname else 0)), "unshare mount namespace")
    _call(_libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None), "make mounts private")
    if _libc.umount2(b"/sys", MNT_DETACH) == 0:
        _call(_libc.mount(b"sysfs", b"/sys", b"sysfs", 0, None), "mount /sys")
    for src, dst in args.binds:
        _call(_libc.mount(src.encode(), dst.encode(), None, MS_BIND, None), f"bind-mount {src} on {dst}")
    if args.hostname:
        name = args.hostname.encode()
        _call(_libc.sethostname(name, len(name)), f"set hostname {args.hostname}")


def main() -> None:
    args = Args(sys.argv[1:])
    if not args.net or not args.command:
        _die("usage: python -m osdn.kernel.nsexec --net PATH [--bind SRC:DST]... [--hostname NAME] -- ARGV", 2)
    enter(args)
    try:
        os.execvp(args.command[0], args.command)
    except OSError as e:
        _die(f"{args.command[0]}: {e.strerror}", 127)


if __name__ == "__main__":
    main()
