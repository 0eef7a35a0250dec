#define _GNU_SOURCE
#include <stddef.h>
#include <sys/socket.h>
#include "CDatagramBatch.h"

_Static_assert(sizeof(struct stagedoor_mmsghdr) == sizeof(struct mmsghdr), "mmsghdr layout");
_Static_assert(offsetof(struct stagedoor_mmsghdr, msg_len) == offsetof(struct mmsghdr, msg_len), "mmsghdr layout");

int stagedoor_recvmmsg(int fd, struct stagedoor_mmsghdr *messages, unsigned int count, int flags) {
    return recvmmsg(fd, (struct mmsghdr *)messages, count, flags, NULL);
}

int stagedoor_sendmmsg(int fd, struct stagedoor_mmsghdr *messages, unsigned int count, int flags) {
    return sendmmsg(fd, (struct mmsghdr *)messages, count, flags);
}
