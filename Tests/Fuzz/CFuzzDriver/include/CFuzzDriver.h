// libFuzzer's driver entry point, from libclang_rt.fuzzer_no_main (linked by `make fuzz-build`).
#include <stddef.h>
#include <stdint.h>

typedef int (*onair_fuzz_callback)(const uint8_t *data, size_t size);

/// Runs libFuzzer with the given command line, calling `callback` for every input.
int onair_fuzz_run(int *argc, char ***argv, onair_fuzz_callback callback);
