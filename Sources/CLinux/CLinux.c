#define _GNU_SOURCE
#include "CLinux.h"
#include <errno.h>
#include <linux/openat2.h>
#include <sys/fsuid.h>
#include <sys/syscall.h>
#include <stdio.h>
#include <unistd.h>

#include <fcntl.h>
#include <sys/stat.h>

const int S2S_O_PATH = O_PATH;
const long S2S_UTIME_NOW = UTIME_NOW;
const uint64_t S2S_RESOLVE_BENEATH = RESOLVE_BENEATH;
const uint64_t S2S_RESOLVE_NO_SYMLINKS = RESOLVE_NO_SYMLINKS;
const uint64_t S2S_RESOLVE_NO_MAGICLINKS = RESOLVE_NO_MAGICLINKS;

int s2s_thread_setgroups(size_t count, const gid_t *groups) {
    return (int)syscall(SYS_setgroups, count, groups);
}

/* setfsuid(2) reports no error; the only way to learn whether it took is to read it back. */
int s2s_thread_setfsuid(uid_t uid) {
    syscall(SYS_setfsuid, uid);
    if ((uid_t)syscall(SYS_setfsuid, (uid_t)-1) != uid) {
        errno = EPERM;
        return -1;
    }
    return 0;
}

int s2s_thread_setfsgid(gid_t gid) {
    syscall(SYS_setfsgid, gid);
    if ((gid_t)syscall(SYS_setfsgid, (gid_t)-1) != gid) {
        errno = EPERM;
        return -1;
    }
    return 0;
}

int s2s_openat2(int dirfd, const char *path, uint64_t flags, uint64_t mode, uint64_t resolve) {
    struct open_how how = { .flags = flags, .mode = mode, .resolve = resolve };
    return (int)syscall(SYS_openat2, dirfd, path, &how, sizeof how);
}

int s2s_rename_noreplace(int olddirfd, const char *oldpath, int newdirfd, const char *newpath) {
    return renameat2(olddirfd, oldpath, newdirfd, newpath, RENAME_NOREPLACE);
}

int s2s_syncfs(int fd) {
    return syncfs(fd);
}
