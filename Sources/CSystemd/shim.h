#ifndef S2S_CSYSTEMD_SHIM_H
#define S2S_CSYSTEMD_SHIM_H
#include <systemd/sd-daemon.h>
#include <systemd/sd-journal.h>

static const int S2S_SD_LISTEN_FDS_START = SD_LISTEN_FDS_START;
#endif
