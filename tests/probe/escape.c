/* wharf-escape: escape attempts from inside a machine for tests/tests/run_escape.rs. Each
 * argument is one attempt "NAME:ARG1:ARG2…"; prints "NAME OK" or "NAME ERRNONAME" per attempt.
 * Built static. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

static long attempt(char **a, int n) {
    const char *op = a[0];
    if (!strcmp(op, "read") && n == 2) {
        int fd = open(a[1], O_RDONLY | O_CLOEXEC);
        if (fd < 0) return -1;
        char b[16];
        long r = read(fd, b, sizeof b);
        close(fd);
        return r < 0 ? -1 : 0;
    }
    if (!strcmp(op, "write") && n == 3) {
        int fd = open(a[1], O_WRONLY | O_CLOEXEC);
        if (fd < 0) return -1;
        long r = write(fd, a[2], strlen(a[2]));
        close(fd);
        return r < 0 ? -1 : 0;
    }
    if (!strcmp(op, "mount") && n == 4)  /* mount:SRC:DST:FSTYPE ("bind" = MS_BIND|MS_REC) */
        return !strcmp(a[3], "bind") ? mount(a[1], a[2], NULL, MS_BIND | MS_REC, NULL)
                                      : mount(a[1], a[2], a[3], MS_RDONLY, NULL);
    if (!strcmp(op, "mknod") && n == 4) { /* mknod:PATH:MAJ:MIN, then open it */
        unlink(a[1]);
        if (mknod(a[1], S_IFBLK | 0600, makedev(atoi(a[2]), atoi(a[3]))) < 0) return -1;
        int fd = open(a[1], O_RDONLY | O_CLOEXEC);
        int e = errno;
        unlink(a[1]);
        errno = e;
        return fd < 0 ? -1 : 0;
    }
    if (!strcmp(op, "open") && n == 2) {
        int fd = open(a[1], O_RDONLY | O_CLOEXEC);
        return fd < 0 ? -1 : 0;
    }
    if (!strcmp(op, "finit_module") && n == 2) {
        int fd = open(a[1], O_RDONLY | O_CLOEXEC);
        if (fd < 0) return -1;
        return syscall(SYS_finit_module, fd, "", 0);
    }
    if (!strcmp(op, "init_module")) {
        static char junk[64] = "\177ELF";
        return syscall(SYS_init_module, junk, sizeof junk, "");
    }
    if (!strcmp(op, "keyctl")) return syscall(SYS_keyctl, 0 /* GET_KEYRING_ID */, -3, 0);
    if (!strcmp(op, "kill") && n == 2) return kill(atoi(a[1]), 0);
    if (!strcmp(op, "reboot")) {
        fflush(stdout);
        return reboot(RB_POWER_OFF);
    }
    errno = EINVAL;
    return -2;
}

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        char *copy = strdup(argv[i]), *parts[8], *save = NULL;
        int n = 0;
        for (char *p = strtok_r(copy, ":", &save); p && n < 8; p = strtok_r(NULL, ":", &save))
            parts[n++] = p;
        if (n == 0) continue;
        errno = 0;
        long r = attempt(parts, n);
        if (r == -2) { fprintf(stderr, "bad attempt %s\n", argv[i]); return 2; }
        printf("%s %s\n", parts[0], r >= 0 ? "OK" : strerrorname_np(errno));
        fflush(stdout);
    }
    return 0;
}
