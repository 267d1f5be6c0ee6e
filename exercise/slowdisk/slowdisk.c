/*
 * A slow disk for one directory, loaded into the order service with LD_PRELOAD by the
 * harness's held-back checks (exercise/src/catalog/disk.rs drives it; never exported).
 *
 * Every file-system call the service makes on a file in SLOW_DISK_DIR (or on the directory
 * itself) goes through here: opening a file to write it, a write, an fsync or fdatasync of a
 * file, a rename, and an fsync of the directory. Each is logged to SLOW_DISK_CONTROL/calls,
 * before and after it runs. When the plan in SLOW_DISK_CONTROL/plan names the call ("rename
 * 1": hold the next rename; "write 0": hold every write), the call waits in the kernel's
 * stead, in a loop that sleeps a millisecond at a time, until SLOW_DISK_CONTROL/release
 * exists: the calling thread is stuck there as it would be on a hung disk, and whatever else
 * that thread should run waits with it. Each held call is announced by a file held.N.
 *
 * Nothing here decides by time: a call is held until the check lets it go (or, so that a
 * check that forgot cannot hang a grade, for SLOW_DISK_LIMIT_MS, a minute by default).
 * Without both variables set, every call goes straight through.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

/* The calls that can be held, as a plan names them. */
enum call { OPEN, WRITE, FSYNC, RENAME, DIRSYNC, CALLS };
static const char *const NAMES[CALLS] = {"open", "write", "fsync", "rename", "dirsync"};

/* What a tracked descriptor is. */
enum tracked { UNTRACKED = 0, A_FILE = 1, THE_DIRECTORY = 2 };

#define MAX_FD 65536
static _Atomic unsigned char fds[MAX_FD];

static char dir[PATH_MAX];
static size_t dir_len;
/* Short enough that each file of it fits a path. */
static char control[PATH_MAX - 64];
static long limit_ms = 60000;
static int active;

/* Set while this thread is inside the shim's own file work, which must not be intercepted. */
static __thread int busy;

#define REAL(name) static __typeof__(name) *real_##name
REAL(open);
REAL(open64);
REAL(openat);
REAL(openat64);
REAL(creat);
REAL(creat64);
REAL(write);
REAL(pwrite);
REAL(pwrite64);
REAL(writev);
REAL(fsync);
REAL(fdatasync);
REAL(rename);
REAL(renameat);
REAL(renameat2);
REAL(close);

#define RESOLVE(name) real_##name = dlsym(RTLD_NEXT, #name)

__attribute__((constructor)) static void start(void) {
    RESOLVE(open);
    RESOLVE(open64);
    RESOLVE(openat);
    RESOLVE(openat64);
    RESOLVE(creat);
    RESOLVE(creat64);
    RESOLVE(write);
    RESOLVE(pwrite);
    RESOLVE(pwrite64);
    RESOLVE(writev);
    RESOLVE(fsync);
    RESOLVE(fdatasync);
    RESOLVE(rename);
    RESOLVE(renameat);
    RESOLVE(renameat2);
    RESOLVE(close);
    const char *d = getenv("SLOW_DISK_DIR");
    const char *c = getenv("SLOW_DISK_CONTROL");
    const char *l = getenv("SLOW_DISK_LIMIT_MS");
    if (!d || !c || !*d || !*c || strlen(d) >= sizeof dir - 1 || strlen(c) >= sizeof control - 1)
        return;
    strcpy(dir, d);
    dir_len = strlen(dir);
    while (dir_len > 1 && dir[dir_len - 1] == '/')
        dir[--dir_len] = '\0';
    strcpy(control, c);
    if (l)
        limit_ms = atol(l);
    active = 1;
}

/* Whether `path` is the slow directory itself (2), a file in it (1), or neither (0). */
static int where(const char *path) {
    if (!active || !path || path[0] != '/' || strncmp(path, dir, dir_len) != 0)
        return 0;
    if (path[dir_len] == '\0')
        return THE_DIRECTORY;
    return path[dir_len] == '/' ? A_FILE : 0;
}

static int tracked(int fd) {
    return active && fd >= 0 && fd < MAX_FD ? atomic_load(&fds[fd]) : UNTRACKED;
}

static void track(int fd, int what) {
    if (fd >= 0 && fd < MAX_FD)
        atomic_store(&fds[fd], (unsigned char)what);
}

/* Appends one line to the control folder's file `name`, in one write. */
static void append(const char *name, const char *line) {
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", control, name);
    busy++;
    int fd = real_open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd >= 0) {
        (void)real_write(fd, line, strlen(line));
        real_close(fd);
    }
    busy--;
}

static int exists(const char *name) {
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", control, name);
    struct stat st;
    return stat(path, &st) == 0;
}

/* How many calls of kind `call` the plan holds (0: every one), or -1 when it holds none. */
static long planned(enum call call) {
    char path[PATH_MAX], text[128] = {0};
    snprintf(path, sizeof path, "%s/plan", control);
    busy++;
    int fd = real_open(path, O_RDONLY | O_CLOEXEC);
    busy--;
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, text, sizeof text - 1);
    busy++;
    real_close(fd);
    busy--;
    if (n <= 0)
        return -1;
    char name[32];
    long count;
    if (sscanf(text, "%31s %ld", name, &count) != 2 || strcmp(name, NAMES[call]) != 0)
        return -1;
    return count;
}

/* Claims a place among the `count` calls the plan holds (any number when 0): its number,
 * or -1 when the plan's calls are all taken. */
static long claim(long count, const char *what) {
    for (long n = 0; count == 0 ? n < 100000 : n < count; n++) {
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/held.%ld", control, n);
        busy++;
        int fd = real_open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd >= 0) {
            (void)real_write(fd, what, strlen(what));
            real_close(fd);
            busy--;
            return n;
        }
        busy--;
        if (errno != EEXIST)
            return -1;
    }
    return -1;
}

static long now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Before a call of kind `call` described by `what`: logs it, and holds it if the plan says
 * so, until the release file exists. */
static void before(enum call call, const char *what) {
    char line[PATH_MAX * 2 + 64];
    snprintf(line, sizeof line, "%ld start %s %s\n", (long)syscall(SYS_gettid), NAMES[call], what);
    append("calls", line);
    if (exists("release"))
        return;
    long count = planned(call);
    if (count < 0)
        return;
    snprintf(line, sizeof line, "%s %s\n", NAMES[call], what);
    long held = claim(count, line);
    if (held < 0)
        return;
    long until = now_ms() + limit_ms;
    struct timespec pause = {0, 1000000};
    while (!exists("release") && now_ms() < until)
        nanosleep(&pause, NULL);
}

static void after(enum call call, const char *what, long result) {
    char line[PATH_MAX * 2 + 64];
    snprintf(line, sizeof line, "%ld done %s %s = %ld\n", (long)syscall(SYS_gettid), NAMES[call], what,
             result);
    append("calls", line);
}

/* Opening: a file of the slow directory opened to write is held as `open`; every descriptor
 * of it (and of the directory) is tracked, so that its writes and fsyncs are seen. */
static int opening(const char *path, int flags) {
    int kind = busy ? UNTRACKED : where(path);
    int writes = (flags & (O_WRONLY | O_RDWR | O_CREAT | O_TRUNC)) != 0;
    if (kind == A_FILE && writes)
        before(OPEN, path);
    return kind;
}

static int opened(const char *path, int flags, int kind, int fd) {
    int saved = errno;
    if (fd >= 0)
        track(fd, kind);
    if (kind == A_FILE && (flags & (O_WRONLY | O_RDWR | O_CREAT | O_TRUNC)) != 0) {
        char what[PATH_MAX + 32];
        snprintf(what, sizeof what, "%s fd=%d", path, fd);
        after(OPEN, what, fd);
    }
    errno = saved;
    return fd;
}

static mode_t mode_of(int flags, va_list args) {
    return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE ? va_arg(args, mode_t) : 0;
}

int open(const char *path, int flags, ...) {
    va_list args;
    va_start(args, flags);
    mode_t mode = mode_of(flags, args);
    va_end(args);
    int kind = opening(path, flags);
    return opened(path, flags, kind, real_open(path, flags, mode));
}

int open64(const char *path, int flags, ...) {
    va_list args;
    va_start(args, flags);
    mode_t mode = mode_of(flags, args);
    va_end(args);
    int kind = opening(path, flags);
    return opened(path, flags, kind, real_open64(path, flags, mode));
}

int openat(int dirfd, const char *path, int flags, ...) {
    va_list args;
    va_start(args, flags);
    mode_t mode = mode_of(flags, args);
    va_end(args);
    int kind = opening(path, flags);
    return opened(path, flags, kind, real_openat(dirfd, path, flags, mode));
}

int openat64(int dirfd, const char *path, int flags, ...) {
    va_list args;
    va_start(args, flags);
    mode_t mode = mode_of(flags, args);
    va_end(args);
    int kind = opening(path, flags);
    return opened(path, flags, kind, real_openat64(dirfd, path, flags, mode));
}

int creat(const char *path, mode_t mode) {
    int flags = O_CREAT | O_WRONLY | O_TRUNC;
    int kind = opening(path, flags);
    return opened(path, flags, kind, real_creat(path, mode));
}

int creat64(const char *path, mode_t mode) {
    int flags = O_CREAT | O_WRONLY | O_TRUNC;
    int kind = opening(path, flags);
    return opened(path, flags, kind, real_creat64(path, mode));
}

/* A call on a descriptor: held when it is a tracked file's (or, for fsync, the directory's). */
#define ON_FD(kind_of, expr)                                                            \
    do {                                                                                \
        int what_fd = tracked(fd);                                                      \
        enum call call = kind_of;                                                       \
        int seen = !busy && what_fd != UNTRACKED && (int)call >= 0;                     \
        char what[32];                                                                  \
        snprintf(what, sizeof what, "fd=%d", fd);                                       \
        if (seen)                                                                       \
            before(call, what);                                                         \
        __typeof__(expr) result = expr;                                                 \
        int saved = errno;                                                              \
        if (seen)                                                                       \
            after(call, what, (long)result);                                            \
        errno = saved;                                                                  \
        return result;                                                                  \
    } while (0)

#define WRITE_KIND (what_fd == A_FILE ? WRITE : -1)
#define SYNC_KIND (what_fd == A_FILE ? FSYNC : DIRSYNC)

ssize_t write(int fd, const void *buf, size_t count) { ON_FD(WRITE_KIND, real_write(fd, buf, count)); }

ssize_t pwrite(int fd, const void *buf, size_t count, off_t offset) {
    ON_FD(WRITE_KIND, real_pwrite(fd, buf, count, offset));
}

ssize_t pwrite64(int fd, const void *buf, size_t count, off64_t offset) {
    ON_FD(WRITE_KIND, real_pwrite64(fd, buf, count, offset));
}

ssize_t writev(int fd, const struct iovec *iov, int iovcnt) {
    ON_FD(WRITE_KIND, real_writev(fd, iov, iovcnt));
}

int fsync(int fd) { ON_FD(SYNC_KIND, real_fsync(fd)); }

int fdatasync(int fd) { ON_FD(SYNC_KIND, real_fdatasync(fd)); }

int close(int fd) {
    if (!busy)
        track(fd, UNTRACKED);
    return real_close(fd);
}

/* A rename into, out of or within the slow directory. */
static int renaming(const char *from, const char *to, char *what, size_t size) {
    int seen = !busy && (where(from) || where(to));
    if (seen) {
        snprintf(what, size, "%s -> %s", from, to);
        before(RENAME, what);
    }
    return seen;
}

static int renamed(int seen, const char *what, int result) {
    int saved = errno;
    if (seen)
        after(RENAME, what, result);
    errno = saved;
    return result;
}

int rename(const char *from, const char *to) {
    char what[PATH_MAX * 2 + 8];
    int seen = renaming(from, to, what, sizeof what);
    return renamed(seen, what, real_rename(from, to));
}

int renameat(int fromfd, const char *from, int tofd, const char *to) {
    char what[PATH_MAX * 2 + 8];
    int seen = renaming(from, to, what, sizeof what);
    return renamed(seen, what, real_renameat(fromfd, from, tofd, to));
}

int renameat2(int fromfd, const char *from, int tofd, const char *to, unsigned int flags) {
    char what[PATH_MAX * 2 + 8];
    int seen = renaming(from, to, what, sizeof what);
    return renamed(seen, what, real_renameat2(fromfd, from, tofd, to, flags));
}
