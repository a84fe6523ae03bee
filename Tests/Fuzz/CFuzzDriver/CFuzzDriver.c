#include "CFuzzDriver.h"

int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*UserCb)(const uint8_t *Data, size_t Size));

int onair_fuzz_run(int *argc, char ***argv, onair_fuzz_callback callback) {
    return LLVMFuzzerRunDriver(argc, argv, callback);
}
