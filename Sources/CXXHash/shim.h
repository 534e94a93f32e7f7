#ifndef S2S_CXXHASH_SHIM_H
#define S2S_CXXHASH_SHIM_H
/* XXH3-128, the default whole-file digest (DESIGN.md, item 7), from the shared libxxhash.
 * Only the stable API: the streaming state stays opaque (XXH3_createState), so nothing here
 * depends on the library's private layout. */
#include <xxhash.h>
#endif
