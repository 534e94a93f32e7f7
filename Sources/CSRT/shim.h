#ifndef S2S_CSRT_SHIM_H
#define S2S_CSRT_SHIM_H
/* libsrt (Debian's libsrt-openssl-dev): SRT in rendezvous mode carries a punched route over UDP
 * when TCP will not punch (docs/protocol.md, "Punched route"). Only its socket API is used; SRT's
 * own encryption is not (the Noise session inside is the encryption). */
#include <srt/srt.h>
#endif
