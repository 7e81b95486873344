// SPDX-License-Identifier: Apache-2.0
// sandbox_exec: runs a command under what the systemd unit's SystemCallFilter=,
// SystemCallErrorNumber=EPERM, NoNewPrivileges= and MemoryDenyWriteExecute= would impose, so that
// tests/tst_packaging.sh can check that the installed sluice-server works inside them where no
// systemd runs (a chroot, a container).
//   sandbox_exec <allowed-syscalls-file> <command> [args…]
// The file lists the allowed system calls, one name per line (tst_packaging.sh expands the unit's
// groups with systemd-analyze syscall-filter); every other call fails with EPERM, as under systemd.
// MemoryDenyWriteExecute is the kernel's PR_SET_MDWE (Linux 6.3+, what systemd 253+ uses too).
#include <cerrno>
#include <seccomp.h>
#include <cstdio>
#include <cstring>
#include <sys/prctl.h>
#include <unistd.h>

#ifndef PR_SET_MDWE
#define PR_SET_MDWE 65
#endif
#ifndef PR_MDWE_REFUSE_EXEC_GAIN
#define PR_MDWE_REFUSE_EXEC_GAIN 1
#endif

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s <allowed-syscalls-file> <command> [args...]\n", argv[0]);
        return 2;
    }
    FILE *f = fopen(argv[1], "r");
    if (!f) {
        fprintf(stderr, "sandbox_exec: %s: %s\n", argv[1], strerror(errno));
        return 2;
    }
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ERRNO(EPERM));
    if (!ctx) {
        fprintf(stderr, "sandbox_exec: seccomp_init failed\n");
        return 2;
    }
    char name[128];
    int allowed = 0;
    while (fscanf(f, "%127s", name) == 1) {
        const int nr = seccomp_syscall_resolve_name(name);
        if (nr == __NR_SCMP_ERROR)
            continue; // a name this architecture lacks (systemd skips those too)
        if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0) == 0)
            ++allowed;
    }
    fclose(f);
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
        perror("sandbox_exec: PR_SET_NO_NEW_PRIVS");
        return 2;
    }
    const int mdwe = prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN, 0, 0, 0) == 0;
    const int rc = seccomp_load(ctx);
    seccomp_release(ctx);
    if (rc != 0) {
        fprintf(stderr, "sandbox_exec: seccomp_load: %s\n", strerror(-rc));
        return 2;
    }
    fprintf(stderr, "sandbox_exec: %d system calls allowed, others EPERM; no_new_privs; memory-deny-write-execute %s\n",
            allowed, mdwe ? "on" : "UNAVAILABLE (kernel < 6.3)");
    execv(argv[2], argv + 2);
    fprintf(stderr, "sandbox_exec: %s: %s\n", argv[2], strerror(errno));
    return 127;
}
