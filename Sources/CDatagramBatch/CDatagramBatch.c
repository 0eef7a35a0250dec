#define _GNU_SOURCE
#include <stddef.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include "CDatagramBatch.h"

_Static_assert(sizeof(struct stagedoor_mmsghdr) == sizeof(struct mmsghdr), "mmsghdr layout");
_Static_assert(offsetof(struct stagedoor_mmsghdr, msg_len) == offsetof(struct mmsghdr, msg_len), "mmsghdr layout");

int stagedoor_recvmmsg(int fd, struct stagedoor_mmsghdr *messages, unsigned int count, int flags) {
    return recvmmsg(fd, (struct mmsghdr *)messages, count, flags, NULL);
}

int stagedoor_sendmmsg(int fd, struct stagedoor_mmsghdr *messages, unsigned int count, int flags) {
    return sendmmsg(fd, (struct mmsghdr *)messages, count, flags);
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
