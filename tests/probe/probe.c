/* wharf-probe: try system calls inside a machine and print "NAME RESULT" per argument, RESULT
 * being OK or the errno name. Arguments are chosen so that every call is harmless even when the
 * seccomp filter lets it through (bad pointers, bad flags, bad magic numbers). Built static by
 * tests/tests/run_security.rs. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

static long i386_call(long nr, long a, long b, long c) {
    long ret;
    __asm__ volatile("int $0x80" : "=a"(ret) : "a"(nr), "b"(a), "c"(b), "d"(c) : "memory");
    if (ret < 0 && ret > -4096) {
        errno = (int)-ret;
        return -1;
    }
    return ret;
}

static long call(const char *n) {
    if (!strcmp(n, "keyctl")) return syscall(SYS_keyctl, 0 /* GET_KEYRING_ID */, -3, 0);
    if (!strcmp(n, "add_key")) return syscall(SYS_add_key, NULL, NULL, NULL, 0, 0);
    if (!strcmp(n, "kexec_load")) return syscall(SYS_kexec_load, 0, 100000, NULL, 0xffff0000UL);
    if (!strcmp(n, "kexec_file_load")) return syscall(SYS_kexec_file_load, -1, -1, 0, NULL, 0xffffUL);
    if (!strcmp(n, "bpf")) return syscall(SYS_bpf, 0xffff, NULL, 0);
    if (!strcmp(n, "perf_event_open")) return syscall(SYS_perf_event_open, NULL, 0, -1, -1, 0);
    if (!strcmp(n, "open_by_handle_at")) return syscall(SYS_open_by_handle_at, -1, NULL, 0);
    if (!strcmp(n, "init_module")) return syscall(SYS_init_module, NULL, 0, NULL);
    if (!strcmp(n, "finit_module")) return syscall(SYS_finit_module, -1, NULL, 0);
    if (!strcmp(n, "swapon")) return syscall(SYS_swapon, NULL, 0);
    if (!strcmp(n, "clock_settime")) return syscall(SYS_clock_settime, 0, NULL);
    if (!strcmp(n, "reboot")) return syscall(SYS_reboot, 0, 0, 0, NULL);
    if (!strcmp(n, "ptrace")) return syscall(SYS_ptrace, 2 /* PEEKDATA */, 0, NULL, NULL);
    if (!strcmp(n, "mount")) return syscall(SYS_mount, NULL, NULL, NULL, 0, NULL);
    if (!strcmp(n, "getpid")) return syscall(SYS_getpid);
    if (!strcmp(n, "socket_audit")) return socket(AF_NETLINK, SOCK_RAW, NETLINK_AUDIT);
    if (!strcmp(n, "socket_route")) return socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
    if (!strcmp(n, "cachestat")) return syscall(451, -1, NULL, NULL, 0);
    if (!strcmp(n, "x32_getpid")) return syscall(0x40000000 | SYS_getpid);
    if (!strcmp(n, "i386_getpid")) return i386_call(20, 0, 0, 0);
    if (!strcmp(n, "i386_keyctl")) return i386_call(288, 0, -3, 0);
    errno = 0;
    return -2;
}

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        errno = 0;
        long r = call(argv[i]);
        if (r == -2 && errno == 0)
            printf("%s UNKNOWN-PROBE\n", argv[i]);
        else if (r < 0)
            printf("%s %s\n", argv[i], strerrorname_np(errno));
        else
            printf("%s OK\n", argv[i]);
    }
    return 0;
}
