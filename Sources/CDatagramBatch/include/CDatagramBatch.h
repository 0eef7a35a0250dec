#ifndef STAGEDOOR_CDATAGRAMBATCH_H
#define STAGEDOOR_CDATAGRAMBATCH_H
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <stddef.h>
#include <sys/socket.h>

/// `struct mmsghdr`, recvmmsg(2) and sendmmsg(2) are declared only under _GNU_SOURCE, which
/// Swift's Glibc module is not built with. This struct has the same layout as the kernel's
/// (checked by a static assertion in the .c file) and the wrappers pass it through.
struct stagedoor_mmsghdr {
    struct msghdr msg_hdr;
    unsigned int msg_len;
};

/// recvmmsg(2) without a timeout.
int stagedoor_recvmmsg(int fd, struct stagedoor_mmsghdr *messages, unsigned int count, int flags);

/// sendmmsg(2).
int stagedoor_sendmmsg(int fd, struct stagedoor_mmsghdr *messages, unsigned int count, int flags);

/// recvfrom(2), sendto(2) and epoll_wait(2), straight (see the .c file); -1 and errno on
/// failure, as glibc's.
long stagedoor_recvfrom(int fd, void *buffer, size_t length, int flags, struct sockaddr *source, socklen_t *sourceLength);
long stagedoor_sendto(int fd, const void *buffer, size_t length, int flags, const struct sockaddr *destination, socklen_t destinationLength);
int stagedoor_epoll_wait(int epoll, struct epoll_event *events, int capacity, int timeout);

/// Hands every datagram arriving at `fd`'s SO_REUSEPORT group to the group's first socket (a
/// classic BPF program returning index 0, SO_ATTACH_REUSEPORT_CBPF, socket(7)); 0 or -1.
int stagedoor_reuseport_to_first(int fd);

/// Writes a UDP_SEGMENT control message (udp(7): the datagrams of one send are `size` bytes
/// each, the last may be shorter) into `buffer` (32 bytes, 8-aligned); returns its
/// msg_controllen.
size_t stagedoor_segment_control(void *buffer, unsigned short size);

/// A non-blocking CLOCK_MONOTONIC timerfd(2), or -1.
int stagedoor_timerfd_create(void);

/// Arms `fd` to fire every `nanoseconds`, the first time `nanoseconds` from now.
int stagedoor_timerfd_every(int fd, unsigned long long nanoseconds);
#endif
