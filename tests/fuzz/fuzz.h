/* libFuzzer entry point, shared by the fuzz targets and the replay
 * driver (replay.c), which runs a corpus without libFuzzer. */
#ifndef FIMGUARD_FUZZ_H
#define FIMGUARD_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#endif
