// The matrix side of scripts/bench-bridge-load (compiled by the script into its temporary
// folder: gcc -O2 bench-bridge-ports.c). Python cannot pace N x 1000 packets a second, this
// does, on one thread:
//   - send: every packet time (timerfd), one L24 (or L16) RTP packet of a 440 Hz tone to each
//     of the bridge's N port receive addresses, 127.0.0.1:FIRST_PORT+i, in one sendmmsg;
//     a late tick sends the packets it missed (at most 50 packet times, the rest is counted
//     in `skipped`: the load generator, not the bridge, fell behind);
//   - receive: every port's output comes to one socket of ours (its RX port is printed), told
//     apart by source port (the bridge sends a port's RTP from the port's receive socket), and
//     drained with recvmmsg; per port, RTP sequence gaps (`lost`) and packets missing by RTP
//     timestamp (`missing`: lost, or skipped by the bridge with the sequence kept whole).
//   bench-bridge-ports N FIRST_PORT SAMPLES_PER_PACKET PAYLOAD_TYPE L24|L16
// Prints "rx_port=P" once bound. Commands, one a line on standard input:
//   g  start sending            s  print the counters as one JSON line
//   q (or end of input)  exit
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define BATCH 512
#define MAX_CATCH_UP 50
#define TONE_SAMPLES 48000

struct port_rx {
  long received, dups;
  int started;
  uint16_t first_seq, max_seq;
  uint32_t cycles; // sequence wraps, shifted
  uint32_t first_ts;
  uint64_t ts_ext_max, ts_base;
  uint32_t last_ts;
};

static int n, first_port, spp, pt, bytes_per_sample;
static struct port_rx *rx;
static long sent, send_errors, skipped, late_ticks, received_total, foreign, max_behind;
static int32_t tone[TONE_SAMPLES];

static void put_sample(uint8_t *p, int32_t s) {
  if (bytes_per_sample == 3) {
    p[0] = (s >> 16) & 0xff; p[1] = (s >> 8) & 0xff; p[2] = s & 0xff;
  } else {
    int16_t v = (int16_t)(s >> 8);
    p[0] = (v >> 8) & 0xff; p[1] = v & 0xff;
  }
}

static void on_packet(const uint8_t *p, int len, uint16_t source_port) {
  int i = (int)source_port - first_port;
  if (i < 0 || i >= n || len < 12 || (p[0] & 0xc0) != 0x80) { foreign++; return; }
  received_total++;
  struct port_rx *r = &rx[i];
  uint16_t seq = (uint16_t)(p[2] << 8 | p[3]);
  uint32_t ts = (uint32_t)p[4] << 24 | (uint32_t)p[5] << 16 | (uint32_t)p[6] << 8 | p[7];
  if (!r->started) {
    r->started = 1;
    r->first_seq = r->max_seq = seq;
    r->first_ts = r->last_ts = ts;
    r->ts_base = 0;
    r->ts_ext_max = 0;
    r->received = 1;
    return;
  }
  r->received++;
  uint16_t delta = seq - r->max_seq;
  if (delta == 0) r->dups++;
  else if (delta < 0x8000) {
    if (seq < r->max_seq) r->cycles += 1u << 16;
    r->max_seq = seq;
  }
  // The timestamp, extended: packets missing by timestamp = span / samples per packet + 1 - received.
  int32_t tdelta = (int32_t)(ts - r->last_ts);
  if (tdelta > 0) {
    r->ts_base += (uint32_t)tdelta;
    r->last_ts = ts;
    if (r->ts_base > r->ts_ext_max) r->ts_ext_max = r->ts_base;
  }
}

static void print_stats(void) {
  long lost = 0, missing = 0, ports_receiving = 0, dups = 0;
  for (int i = 0; i < n; i++) {
    struct port_rx *r = &rx[i];
    if (!r->started) continue;
    ports_receiving++;
    long expected = (long)(r->cycles + r->max_seq) - r->first_seq + 1;
    lost += expected - r->received + r->dups;
    long by_ts = (long)(r->ts_ext_max / spp) + 1;
    missing += by_ts - r->received + r->dups;
    dups += r->dups;
  }
  printf("{\"sent\": %ld, \"send_errors\": %ld, \"skipped\": %ld, \"late_ticks\": %ld, \"max_behind\": %ld, "
         "\"received\": %ld, \"lost\": %ld, \"missing\": %ld, \"duplicates\": %ld, \"foreign\": %ld, "
         "\"ports_receiving\": %ld}\n",
         sent, send_errors, skipped, late_ticks, max_behind, received_total, lost, missing, dups, foreign,
         ports_receiving);
  fflush(stdout);
}

int main(int argc, char **argv) {
  if (argc != 6) {
    fprintf(stderr, "usage: bench-bridge-ports N FIRST_PORT SAMPLES_PER_PACKET PAYLOAD_TYPE L24|L16\n");
    return 2;
  }
  n = atoi(argv[1]);
  first_port = atoi(argv[2]);
  spp = atoi(argv[3]);
  pt = atoi(argv[4]);
  bytes_per_sample = strcmp(argv[5], "L16") == 0 ? 2 : 3;
  if (n < 1 || spp < 1 || spp > 960) { fprintf(stderr, "bad arguments\n"); return 2; }
  rx = calloc(n, sizeof *rx);
  for (int i = 0; i < TONE_SAMPLES; i++) tone[i] = (int32_t)(0.25 * 8388607 * sin(2 * M_PI * 440.0 * i / 48000.0));

  int tx = socket(AF_INET, SOCK_DGRAM, 0), rxs = socket(AF_INET, SOCK_DGRAM, 0);
  int big = 8 << 20;
  setsockopt(tx, SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof big);
  if (setsockopt(rxs, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof big) != 0)
    setsockopt(rxs, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
  struct sockaddr_in local = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  if (bind(rxs, (struct sockaddr *)&local, sizeof local) != 0) { perror("bind"); return 1; }
  socklen_t len = sizeof local;
  getsockname(rxs, (struct sockaddr *)&local, &len);
  printf("rx_port=%d\n", ntohs(local.sin_port));
  fflush(stdout);

  // One packet buffer and destination per port; sequence and timestamp rewritten each tick.
  int packet_len = 12 + spp * bytes_per_sample;
  uint8_t *packets = calloc((size_t)n, packet_len);
  struct sockaddr_in *dest = calloc(n, sizeof *dest);
  struct mmsghdr *out = calloc(n, sizeof *out);
  struct iovec *out_iov = calloc(n, sizeof *out_iov);
  for (int i = 0; i < n; i++) {
    dest[i] = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons(first_port + i),
                                   .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    uint8_t *p = packets + (size_t)i * packet_len;
    uint32_t ssrc = 0x50000000u + i;
    p[0] = 0x80; p[1] = pt;
    p[8] = ssrc >> 24; p[9] = ssrc >> 16; p[10] = ssrc >> 8; p[11] = ssrc;
    out_iov[i] = (struct iovec){.iov_base = p, .iov_len = packet_len};
    out[i].msg_hdr = (struct msghdr){.msg_name = &dest[i], .msg_namelen = sizeof dest[i], .msg_iov = &out_iov[i], .msg_iovlen = 1};
  }

  static uint8_t in_buf[BATCH][2048];
  static struct iovec in_iov[BATCH];
  static struct sockaddr_in in_from[BATCH];
  static struct mmsghdr in[BATCH];
  for (int i = 0; i < BATCH; i++) {
    in_iov[i] = (struct iovec){.iov_base = in_buf[i], .iov_len = sizeof in_buf[i]};
    in[i].msg_hdr = (struct msghdr){.msg_name = &in_from[i], .msg_namelen = sizeof in_from[i], .msg_iov = &in_iov[i], .msg_iovlen = 1};
  }

  int timer = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
  long period_ns = (long)spp * 1000000000L / 48000;
  int sending = 0;
  uint64_t tick = 0; // packets sent per port so far
  char line[64];
  int line_len = 0;
  struct pollfd fds[3] = {{.fd = 0, .events = POLLIN}, {.fd = rxs, .events = POLLIN}, {.fd = timer, .events = POLLIN}};
  for (;;) {
    if (poll(fds, 3, -1) < 0) {
      if (errno == EINTR) continue;
      perror("poll");
      return 1;
    }
    if (fds[1].revents & POLLIN) {
      for (;;) {
        for (int i = 0; i < BATCH; i++) in[i].msg_hdr.msg_namelen = sizeof in_from[i];
        int got = recvmmsg(rxs, in, BATCH, MSG_DONTWAIT, NULL);
        if (got <= 0) break;
        for (int i = 0; i < got; i++) on_packet(in_buf[i], in[i].msg_len, ntohs(in_from[i].sin_port));
        if (got < BATCH) break;
      }
    }
    if (fds[2].revents & POLLIN) {
      uint64_t expirations = 0;
      if (read(timer, &expirations, sizeof expirations) == sizeof expirations && sending) {
        if (expirations > 1) late_ticks++;
        if ((long)expirations > max_behind) max_behind = (long)expirations;
        uint64_t todo = expirations;
        if (todo > MAX_CATCH_UP) {
          skipped += (long)(todo - MAX_CATCH_UP) * n;
          tick += todo - MAX_CATCH_UP; // the timestamps move on: a gap the bridge sees as one
          todo = MAX_CATCH_UP;
        }
        for (uint64_t k = 0; k < todo; k++, tick++) {
          uint16_t seq = (uint16_t)tick;
          uint32_t ts = (uint32_t)(tick * spp);
          int offset = (int)((tick * spp) % TONE_SAMPLES);
          for (int i = 0; i < n; i++) {
            uint8_t *p = packets + (size_t)i * packet_len;
            p[2] = seq >> 8; p[3] = seq;
            p[4] = ts >> 24; p[5] = ts >> 16; p[6] = ts >> 8; p[7] = ts;
            uint8_t *s = p + 12;
            for (int j = 0; j < spp; j++, s += bytes_per_sample) put_sample(s, tone[(offset + j) % TONE_SAMPLES]);
          }
          int done = 0;
          while (done < n) {
            int r = sendmmsg(tx, out + done, n - done, 0);
            if (r < 0) {
              if (errno == EINTR) continue;
              send_errors++;
              done++; // skip the one that failed
              continue;
            }
            done += r;
            sent += r;
          }
        }
      }
    }
    if (fds[0].revents & (POLLIN | POLLHUP)) {
      ssize_t r = read(0, line + line_len, sizeof line - 1 - line_len);
      if (r <= 0) break;
      line_len += (int)r;
      line[line_len] = 0;
      char *nl;
      int quit = 0;
      while ((nl = strchr(line, '\n')) != NULL) {
        *nl = 0;
        if (line[0] == 'g' && !sending) {
          sending = 1;
          struct itimerspec spec = {.it_interval = {0, period_ns}, .it_value = {0, period_ns}};
          timerfd_settime(timer, 0, &spec, NULL);
        } else if (line[0] == 's') {
          print_stats();
        } else if (line[0] == 'q') {
          quit = 1;
        }
        int rest = line_len - (int)(nl + 1 - line);
        memmove(line, nl + 1, rest);
        line_len = rest;
        line[line_len] = 0;
      }
      if (quit) break;
      if (line_len >= (int)sizeof line - 1) line_len = 0;
    }
  }
  print_stats();
  return 0;
}
