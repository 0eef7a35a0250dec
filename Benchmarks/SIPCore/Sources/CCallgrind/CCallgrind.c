// Intentionally empty: the client requests are static inline functions in the header.
#include "CCallgrind.h"
