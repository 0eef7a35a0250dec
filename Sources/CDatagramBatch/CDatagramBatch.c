#define _GNU_SOURCE
#include <stddef.h>
#include <linux/filter.h>
#include <netinet/udp.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <unistd.h>
#include <time.h>
#include "CDatagramBatch.h"

_Static_assert(sizeof(struct stagedoor_mmsghdr) == sizeof(struct mmsghdr), "mmsghdr layout");
_Static_assert(offsetof(struct stagedoor_mmsghdr, msg_len) == offsetof(struct mmsghdr, msg_len), "mmsghdr layout");

// Straight system calls: glibc's recvmmsg and sendmmsg are thread-cancellation points, and
// switch the cancellation state on and off around every call (about 2 % of the TURN relay's CPU
// under perf). The loops calling these are never cancelled.
int stagedoor_recvmmsg(int fd, struct stagedoor_mmsghdr *messages, unsigned int count, int flags) {
    return (int)syscall(SYS_recvmmsg, fd, messages, count, flags, NULL);
}

int stagedoor_sendmmsg(int fd, struct stagedoor_mmsghdr *messages, unsigned int count, int flags) {
    return (int)syscall(SYS_sendmmsg, fd, messages, count, flags);
}

long stagedoor_recvfrom(int fd, void *buffer, size_t length, int flags, struct sockaddr *source, socklen_t *sourceLength) {
    return syscall(SYS_recvfrom, fd, buffer, length, flags, source, sourceLength);
}

long stagedoor_sendto(int fd, const void *buffer, size_t length, int flags, const struct sockaddr *destination, socklen_t destinationLength) {
    return syscall(SYS_sendto, fd, buffer, length, flags, destination, destinationLength);
}

int stagedoor_epoll_wait(int epoll, struct epoll_event *events, int capacity, int timeout) {
    // epoll_pwait with no signal mask is epoll_wait, and exists on every architecture.
    return (int)syscall(SYS_epoll_pwait, epoll, events, capacity, timeout, NULL, (size_t)8);
}

int stagedoor_reuseport_to_first(int fd) {
    struct sock_filter code[] = {{BPF_RET | BPF_K, 0, 0, 0}};
    struct sock_fprog program = {.len = 1, .filter = code};
    return setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &program, sizeof(program));
}

int stagedoor_timerfd_create(void) {
    return timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
}

int stagedoor_timerfd_every(int fd, unsigned long long nanoseconds) {
    struct itimerspec spec;
    spec.it_interval.tv_sec = (time_t)(nanoseconds / 1000000000ULL);
    spec.it_interval.tv_nsec = (long)(nanoseconds % 1000000000ULL);
    spec.it_value = spec.it_interval;
    return timerfd_settime(fd, 0, &spec, NULL);
}

size_t stagedoor_segment_control(void *buffer, unsigned short size) {
    struct msghdr header = {.msg_control = buffer, .msg_controllen = CMSG_SPACE(sizeof(size))};
    struct cmsghdr *control = CMSG_FIRSTHDR(&header);
    control->cmsg_level = SOL_UDP;
    control->cmsg_type = UDP_SEGMENT;
    control->cmsg_len = CMSG_LEN(sizeof(size));
    memcpy(CMSG_DATA(control), &size, sizeof(size));
    return CMSG_SPACE(sizeof(size));
}
