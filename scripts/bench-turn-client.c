// The allocation load of scripts/bench-turn, the same for both servers (compiled by the script
// into its temporary folder: gcc -O2 bench-turn-client.c -lcrypto). Each allocation: its own UDP socket (a 5-tuple of its own), Allocate without
// credentials (401 with REALM and NONCE), Allocate with TURN REST credentials
// (MESSAGE-INTEGRITY), optionally ChannelBind to a peer, then either Refresh with LIFETIME 0
// (mode "cycle") or nothing (mode "hold": the socket stays open, the allocation lives on).
// CONCURRENCY allocations are in flight at once; a lost request is retransmitted after 500 ms.
// Sources are 127.1.0.0/16 addresses in turn, so no 5-tuple is reused while a server might
// still remember a released allocation on it.
//   bench-turn-client SERVER PORT SECRET REALM COUNT CONCURRENCY cycle|hold [PEER_IP PEER_PORT]
// Prints: done=N failed=N retransmits=N seconds=S per_second=R. In hold mode it then prints
// "held" and waits for its standard input to close.
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/md5.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { S_ALLOC0, S_ALLOC1, S_BIND, S_REFRESH };

struct slot {
  int fd, state, tries, active;
  uint8_t tx[12];
  uint8_t msg[512];
  int len;
  double sent_at;
  uint8_t nonce[256];
  int nonce_len;
};

static struct sockaddr_in server, peer;
static int have_peer, cycle;
static char username[128];
static uint8_t key[16];
static const char *realm;
static long started, done_count, failed, retransmits, target;
static int ep;
static long first_source;
static int *held;
static long held_count;

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

static int put_attr(uint8_t *m, int off, uint16_t type, const void *value, int len) {
  m[off] = type >> 8; m[off + 1] = type & 0xff; m[off + 2] = len >> 8; m[off + 3] = len & 0xff;
  memcpy(m + off + 4, value, len);
  int padded = (len + 3) & ~3;
  memset(m + off + 4 + len, 0, padded - len);
  return off + 4 + padded;
}

static void build(struct slot *s) {
  uint8_t *m = s->msg;
  uint16_t type = s->state == S_BIND ? 0x0009 : s->state == S_REFRESH ? 0x0004 : 0x0003;
  for (int i = 0; i < 12; i++) s->tx[i] = rand() & 0xff;
  m[0] = type >> 8; m[1] = type & 0xff;
  m[4] = 0x21; m[5] = 0x12; m[6] = 0xa4; m[7] = 0x42;
  memcpy(m + 8, s->tx, 12);
  int off = 20;
  if (s->state == S_ALLOC0 || s->state == S_ALLOC1) {
    uint8_t transport[4] = {17, 0, 0, 0};
    off = put_attr(m, off, 0x0019, transport, 4);
  } else if (s->state == S_REFRESH) {
    uint8_t zero[4] = {0, 0, 0, 0};
    off = put_attr(m, off, 0x000d, zero, 4);
  } else {
    uint8_t channel[4] = {0x40, 0x00, 0, 0};
    off = put_attr(m, off, 0x000c, channel, 4);
    uint8_t xpa[8];
    xpa[0] = 0; xpa[1] = 1;
    uint16_t port = ntohs(peer.sin_port) ^ 0x2112;
    xpa[2] = port >> 8; xpa[3] = port & 0xff;
    uint32_t addr = ntohl(peer.sin_addr.s_addr) ^ 0x2112a442;
    xpa[4] = addr >> 24; xpa[5] = addr >> 16; xpa[6] = addr >> 8; xpa[7] = addr;
    off = put_attr(m, off, 0x0012, xpa, 8);
  }
  if (s->state != S_ALLOC0) {
    off = put_attr(m, off, 0x0006, username, strlen(username));
    off = put_attr(m, off, 0x0014, realm, strlen(realm));
    off = put_attr(m, off, 0x0015, s->nonce, s->nonce_len);
    int length = off - 20 + 24;
    m[2] = length >> 8; m[3] = length & 0xff;
    unsigned int mac_len = 20;
    uint8_t mac[20];
    HMAC(EVP_sha1(), key, 16, m, off, mac, &mac_len);
    off = put_attr(m, off, 0x0008, mac, 20);
  }
  m[2] = (off - 20) >> 8; m[3] = (off - 20) & 0xff;
  s->len = off;
}

static void transmit(struct slot *s) {
  send(s->fd, s->msg, s->len, 0);
  s->sent_at = now_s();
}

static void start(struct slot *s) {
  s->active = 0;
  if (started >= target) return;
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  // Every allocation from a source address of its own (127.1.0.0/16, in turn): a released
  // allocation's 5-tuple is not reused while a server may still remember it.
  struct sockaddr_in local = {.sin_family = AF_INET};
  local.sin_addr.s_addr = htonl(0x7f010000u | (uint32_t)((started + first_source) % 65534 + 1));
  if (fd < 0 || bind(fd, (struct sockaddr *)&local, sizeof local) != 0 ||
      connect(fd, (struct sockaddr *)&server, sizeof server) != 0) {
    perror("socket/connect");
    exit(1);
  }
  started++;
  s->fd = fd; s->state = S_ALLOC0; s->tries = 0; s->active = 1; s->nonce_len = 0;
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = s};
  epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
  build(s);
  transmit(s);
}

static void finish(struct slot *s, int ok) {
  epoll_ctl(ep, EPOLL_CTL_DEL, s->fd, NULL);
  if (ok) {
    done_count++;
    if (cycle) close(s->fd); else held[held_count++] = s->fd;
  } else {
    failed++;
    close(s->fd);
  }
  start(s);
}

static void advance(struct slot *s, int state) {
  s->state = state; s->tries = 0;
  build(s);
  transmit(s);
}

static void response(struct slot *s, const uint8_t *m, int n) {
  if (n < 20 || memcmp(m + 8, s->tx, 12) != 0) return;
  uint16_t type = m[0] << 8 | m[1];
  int error = (type & 0x0110) == 0x0110;
  int code = 0;
  const uint8_t *nonce = NULL;
  int nonce_len = 0;
  for (int off = 20; off + 4 <= n;) {
    int at = m[off] << 8 | m[off + 1], len = m[off + 2] << 8 | m[off + 3];
    if (off + 4 + len > n) break;
    if (at == 0x0009 && len >= 4) code = m[off + 6] * 100 + m[off + 7];
    if (at == 0x0015 && len < 256) { nonce = m + off + 4; nonce_len = len; }
    off += 4 + ((len + 3) & ~3);
  }
  if (error) {
    if ((code == 401 && s->state == S_ALLOC0) || code == 438) {
      if (!nonce) { finish(s, 0); return; }
      memcpy(s->nonce, nonce, nonce_len); s->nonce_len = nonce_len;
      advance(s, s->state == S_ALLOC0 ? S_ALLOC1 : s->state);
      return;
    }
    if (failed < 5) fprintf(stderr, "bench-turn-client: error %d in state %d\n", code, s->state);
    finish(s, 0);
    return;
  }
  switch (s->state) {
  case S_ALLOC1:
    if (have_peer) advance(s, S_BIND);
    else if (cycle) advance(s, S_REFRESH);
    else finish(s, 1);
    break;
  case S_BIND:
    if (cycle) advance(s, S_REFRESH); else finish(s, 1);
    break;
  case S_REFRESH:
    finish(s, 1);
    break;
  }
}

static void base64(const uint8_t *in, int n, char *out) {
  static const char *a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  int o = 0;
  for (int i = 0; i < n; i += 3) {
    uint32_t g = in[i] << 16 | (i + 1 < n ? in[i + 1] << 8 : 0) | (i + 2 < n ? in[i + 2] : 0);
    out[o++] = a[g >> 18 & 63]; out[o++] = a[g >> 12 & 63];
    out[o++] = i + 1 < n ? a[g >> 6 & 63] : '=';
    out[o++] = i + 2 < n ? a[g & 63] : '=';
  }
  out[o] = 0;
}

int main(int argc, char **argv) {
  if (argc < 8) {
    fprintf(stderr, "usage: bench-turn-client SERVER PORT SECRET REALM COUNT CONCURRENCY cycle|hold [PEER PORT]\n");
    return 2;
  }
  server.sin_family = AF_INET;
  inet_pton(AF_INET, argv[1], &server.sin_addr);
  server.sin_port = htons(atoi(argv[2]));
  const char *secret = argv[3];
  realm = argv[4];
  target = atol(argv[5]);
  int concurrency = atoi(argv[6]);
  cycle = strcmp(argv[7], "cycle") == 0;
  if (argc >= 10) {
    have_peer = 1;
    peer.sin_family = AF_INET;
    inet_pton(AF_INET, argv[8], &peer.sin_addr);
    peer.sin_port = htons(atoi(argv[9]));
  }
  srand(getpid() ^ time(NULL));
  first_source = rand() % 65534;
  snprintf(username, sizeof username, "%ld:bench", (long)time(NULL) + 86400);
  uint8_t mac[20];
  unsigned int mac_len = 20;
  HMAC(EVP_sha1(), secret, strlen(secret), (uint8_t *)username, strlen(username), mac, &mac_len);
  char password[64];
  base64(mac, 20, password);
  char material[512];
  snprintf(material, sizeof material, "%s:%s:%s", username, realm, password);
  unsigned int key_len = 16;
  EVP_Digest(material, strlen(material), key, &key_len, EVP_md5(), NULL);

  held = calloc(target + 1, sizeof *held);
  ep = epoll_create1(0);
  struct slot *slots = calloc(concurrency, sizeof *slots);
  double began = now_s();
  for (int i = 0; i < concurrency; i++) start(&slots[i]);
  struct epoll_event events[256];
  uint8_t buffer[2048];
  double next_check = began + 0.1;
  while (done_count + failed < target) {
    int n = epoll_wait(ep, events, 256, 100);
    for (int i = 0; i < n; i++) {
      struct slot *s = events[i].data.ptr;
      for (;;) {
        ssize_t got = recv(s->fd, buffer, sizeof buffer, 0);
        if (got < 0) break;
        int fd = s->fd;
        response(s, buffer, (int)got);
        if (!s->active || s->fd != fd) break;
      }
    }
    double t = now_s();
    if (t >= next_check) {
      next_check = t + 0.1;
      for (int i = 0; i < concurrency; i++) {
        struct slot *s = &slots[i];
        if (!s->active || t - s->sent_at < 0.5) continue;
        if (++s->tries >= 6) { finish(s, 0); continue; }
        retransmits++;
        transmit(s);
      }
    }
  }
  double seconds = now_s() - began;
  printf("done=%ld failed=%ld retransmits=%ld seconds=%.3f per_second=%.0f\n", done_count, failed, retransmits,
         seconds, done_count / seconds);
  fflush(stdout);
  if (!cycle) {
    printf("held\n");
    fflush(stdout);
    char c;
    while (read(0, &c, 1) > 0) {}
  }
  return 0;
}
