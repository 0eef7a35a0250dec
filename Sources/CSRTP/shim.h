#ifndef STAGEDOOR_CSRTP_SHIM_H
#define STAGEDOOR_CSRTP_SHIM_H
#include <srtp2/srtp.h>
#endif
