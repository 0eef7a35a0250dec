// An LD_PRELOAD allocation counter for whole-process measurements (scripts/bench-bridge-allocations):
// counts every malloc, calloc, realloc, posix_memalign, aligned_alloc and memalign of the process,
// on every thread, by the shared object that called it (dladdr of the return address: libswiftCore
// for Swift's allocations, libnspr4/libnssutil3 for NSS's), and on SIGUSR2 writes "total\n" then
// "count object\n" lines to the file named by $MALLOC_COUNT_FILE.
// Built by the script that uses it: gcc -O2 -shared -fPIC malloc-count.c -o malloc-count.so -ldl
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);

static atomic_ulong allocations;

// Callers by shared object: its dli_fname pointer (stable per object) and a count.
enum { OBJECTS = 64 };
static const char *_Atomic object_names[OBJECTS];
static atomic_ulong object_counts[OBJECTS];
static atomic_ulong unknown;
static __thread int inside;

static void count(void *caller) {
  atomic_fetch_add_explicit(&allocations, 1, memory_order_relaxed);
  if (inside) return;
  inside = 1;
  Dl_info info;
  if (dladdr(caller, &info) && info.dli_fname) {
    for (int i = 0; i < OBJECTS; i++) {
      const char *name = atomic_load(&object_names[i]);
      if (name == NULL) {
        const char *expected = NULL;
        if (!atomic_compare_exchange_strong(&object_names[i], &expected, info.dli_fname)) name = expected;
        else name = info.dli_fname;
      }
      if (name == info.dli_fname) {
        atomic_fetch_add_explicit(&object_counts[i], 1, memory_order_relaxed);
        inside = 0;
        return;
      }
    }
  }
  atomic_fetch_add_explicit(&unknown, 1, memory_order_relaxed);
  inside = 0;
}

void *malloc(size_t size) { count(__builtin_return_address(0)); return __libc_malloc(size); }
void *calloc(size_t n, size_t size) { count(__builtin_return_address(0)); return __libc_calloc(n, size); }
void *realloc(void *pointer, size_t size) { count(__builtin_return_address(0)); return __libc_realloc(pointer, size); }
void *memalign(size_t alignment, size_t size) { count(__builtin_return_address(0)); return __libc_memalign(alignment, size); }
void *aligned_alloc(size_t alignment, size_t size) { count(__builtin_return_address(0)); return __libc_memalign(alignment, size); }
int posix_memalign(void **out, size_t alignment, size_t size) {
  count(__builtin_return_address(0));
  void *pointer = __libc_memalign(alignment, size);
  if (!pointer) return 12; // ENOMEM
  *out = pointer;
  return 0;
}

static int put_number(char *text, unsigned long value) {
  char digits[24];
  int count = 0, length = 0;
  do { digits[count++] = '0' + value % 10; value /= 10; } while (value);
  while (count) text[length++] = digits[--count];
  return length;
}

static void report(int signal) {
  (void)signal;
  const char *path = getenv("MALLOC_COUNT_FILE");
  if (!path) return;
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) return;
  char text[4096];
  int length = put_number(text, atomic_load(&allocations));
  text[length++] = '\n';
  for (int i = 0; i < OBJECTS; i++) {
    const char *name = atomic_load(&object_names[i]);
    if (!name) break;
    size_t size = strlen(name);
    if (size > 200) size = 200;
    if (length + size + 32 >= sizeof text) break;
    length += put_number(text + length, atomic_load(&object_counts[i]));
    text[length++] = ' ';
    memcpy(text + length, name, size);
    length += size;
    text[length++] = '\n';
  }
  (void)!write(fd, text, length);
  close(fd);
}

__attribute__((constructor)) static void install(void) {
  struct sigaction action;
  memset(&action, 0, sizeof action);
  action.sa_handler = report;
  action.sa_flags = SA_RESTART;
  sigaction(SIGUSR2, &action, NULL);
}
