/*
 * COMPRESS=DEFLATE (RFC 4978) for an io: raw deflate (no zlib header)
 * both ways, every write flushed with Z_SYNC_FLUSH so the client sees
 * each response at once. Inflated input is bounded by the io's own
 * buffer limits, so a small compressed line cannot become a huge one in
 * memory.
 */
#ifndef OSMS_IODEFLATE_H
#define OSMS_IODEFLATE_H

#include "io.h"

/* 0, or -1 if zlib cannot start. Links zlib. */
int	 io_start_deflate(struct io *);

#endif
