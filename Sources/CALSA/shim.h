#ifndef STAGEDOOR_CALSA_SHIM_H
#define STAGEDOOR_CALSA_SHIM_H
#include <alsa/asoundlib.h>
#endif
