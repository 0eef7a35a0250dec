#ifndef STAGEDOOR_CPROCESSSPAWN_H
#define STAGEDOOR_CPROCESSSPAWN_H
#include <spawn.h>

/// glibc (2.34+) declares `posix_spawn_file_actions_addclosefrom_np` only under _GNU_SOURCE,
/// which Swift's Glibc module is not built with: this wrapper makes it callable.
int stagedoor_spawn_close_from(posix_spawn_file_actions_t *actions, int lowest);

/// `POSIX_SPAWN_SETSID` (glibc 2.26+), also behind _GNU_SOURCE.
int stagedoor_spawn_setsid_flag(void);
#endif
