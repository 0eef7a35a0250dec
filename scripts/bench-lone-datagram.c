// What a lone datagram costs through the one-message batch calls against the single calls:
// sendmmsg(2) of one message against sendto(2), recvmmsg(2) of one against recvfrom(2), on
// loopback, all through syscall(2) as DatagramLoop makes them. The batch calls are the anchor:
// both kinds run in the same process, in alternating blocks, so a machine that drifts drifts
// for both. Prints ns per call and single / batch ratios. Usage: bench-lone-datagram [rounds]
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e9 + t.tv_nsec;
}

int main(int argc, char **argv) {
    int rounds = argc > 1 ? atoi(argv[1]) : 10;
    const int calls = 20000;
    int sender = socket(AF_INET, SOCK_DGRAM, 0), receiver = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in local = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct sockaddr_in destination;
    socklen_t length = sizeof destination;
    if (bind(sender, (void *)&local, sizeof local) || bind(receiver, (void *)&local, sizeof local)
        || getsockname(receiver, (void *)&destination, &length)) {
        perror("bench-lone-datagram: socket setup");
        return 1;
    }
    static char payload[172], buffer[65536];  // 172 bytes: the TURN benchmark's datagrams
    struct sockaddr_storage source;
    struct iovec out = {payload, sizeof payload}, in = {buffer, sizeof buffer};
    struct mmsghdr sent = {.msg_hdr = {.msg_name = &destination, .msg_namelen = sizeof destination,
                                       .msg_iov = &out, .msg_iovlen = 1}};
    struct mmsghdr read = {.msg_hdr = {.msg_name = &source, .msg_iov = &in, .msg_iovlen = 1}};
    double total[2][2] = {{0}};  // [batch, single][send, receive]
    for (int round = 0; round < rounds; round++) {
        for (int single = 0; single < 2; single++) {
            for (int call = 0; call < calls; call++) {
                double start = now();
                long result = single
                    ? syscall(SYS_sendto, sender, payload, sizeof payload, MSG_DONTWAIT, &destination, sizeof destination)
                    : syscall(SYS_sendmmsg, sender, &sent, 1, MSG_DONTWAIT);
                double middle = now();
                socklen_t sourceLength = sizeof source;
                read.msg_hdr.msg_namelen = sizeof source;
                long got = single
                    ? syscall(SYS_recvfrom, receiver, buffer, sizeof buffer, MSG_DONTWAIT, &source, &sourceLength)
                    : syscall(SYS_recvmmsg, receiver, &read, 1, MSG_DONTWAIT, NULL);
                double end = now();
                if (result < 0 || got < 0) {
                    perror("bench-lone-datagram: a call failed");
                    return 1;
                }
                total[single][0] += middle - start;
                total[single][1] += end - middle;
            }
        }
    }
    double n = (double)rounds * calls;
    printf("send: sendmmsg(1) %.0f ns, sendto %.0f ns, ratio %.2f\n", total[0][0] / n, total[1][0] / n,
           total[1][0] / total[0][0]);
    printf("read: recvmmsg(1) %.0f ns, recvfrom %.0f ns, ratio %.2f\n", total[0][1] / n, total[1][1] / n,
           total[1][1] / total[0][1]);
    return 0;
}
