#define _GNU_SOURCE
#include <spawn.h>
#include "CProcessSpawn.h"

int stagedoor_spawn_close_from(posix_spawn_file_actions_t *actions, int lowest) {
    return posix_spawn_file_actions_addclosefrom_np(actions, lowest);
}

int stagedoor_spawn_setsid_flag(void) {
    return POSIX_SPAWN_SETSID;
}
