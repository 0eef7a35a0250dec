#ifndef SIPBENCH_CCALLGRIND_H
#define SIPBENCH_CCALLGRIND_H
#include <valgrind/callgrind.h>

/// Under callgrind with --collect-atstart=no: flips event collection (cheap, no retranslation).
static inline void sipbench_toggle_collect(void) { CALLGRIND_TOGGLE_COLLECT; }
static inline void sipbench_start_instrumentation(void) { CALLGRIND_START_INSTRUMENTATION; }
static inline void sipbench_stop_instrumentation(void) { CALLGRIND_STOP_INSTRUMENTATION; }
static inline void sipbench_zero_stats(void) { CALLGRIND_ZERO_STATS; }
static inline void sipbench_dump_stats(const char *name) { CALLGRIND_DUMP_STATS_AT(name); }
/// Non-zero when running under valgrind.
static inline unsigned sipbench_running_on_valgrind(void) { return RUNNING_ON_VALGRIND; }
#endif
