#ifndef S2S_CLINUX_H
#define S2S_CLINUX_H
#include <sys/types.h>
#include <stdint.h>
/* mallopt(3) and its options: <malloc.h> is not part of Swift's Glibc module. */
#include <malloc.h>

/*
 * Credentials of the calling thread only. glibc's setgroups() and setresuid() apply to every
 * thread of the process (the "setxid" broadcast); the raw system calls here do not, so one
 * dedicated thread can act as a user while the rest of the daemon stays root.
 * Each returns 0, or -1 with errno set.
 */
int s2s_thread_setgroups(size_t count, const gid_t *groups);
int s2s_thread_setfsuid(uid_t uid);
int s2s_thread_setfsgid(gid_t gid);

/* openat2(2) with only the fields s2s uses; returns an fd, or -1 with errno set. */
int s2s_openat2(int dirfd, const char *path, uint64_t flags, uint64_t mode, uint64_t resolve);

/*
 * renameat2(2) with RENAME_NOREPLACE: fails with EEXIST instead of replacing an existing name.
 * glibc declares renameat2 only under _GNU_SOURCE. Returns 0, or -1 with errno set.
 */
int s2s_rename_noreplace(int olddirfd, const char *oldpath, int newdirfd, const char *newpath);

/* syncfs(2): commits the whole file system holding fd in one go (also behind _GNU_SOURCE). */
int s2s_syncfs(int fd);

/* O_PATH is hidden behind _GNU_SOURCE, which Swift's Glibc module does not define. */
extern const int S2S_O_PATH;

/* UTIME_NOW for futimens: a macro expression that Swift does not import. */
extern const long S2S_UTIME_NOW;

extern const uint64_t S2S_RESOLVE_BENEATH;
extern const uint64_t S2S_RESOLVE_NO_SYMLINKS;
extern const uint64_t S2S_RESOLVE_NO_MAGICLINKS;
#endif
