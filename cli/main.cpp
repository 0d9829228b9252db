#include <malloc.h>

#include "cli/cli.hpp"

int main(int argc, char** argv) {
    // glibc grows the heap in 128 KiB steps and gives memory back as soon as 128 KiB at the
    // top are free, so a command that builds a large result (exp list over 10,000 runs) kept
    // calling brk and faulting pages in; a fifth of its time went there. Grow in 64 MiB steps
    // and keep up to 256 MiB: untouched reserve costs no memory, and mlo processes are short.
    mallopt(M_TOP_PAD, 64 << 20);
    mallopt(M_TRIM_THRESHOLD, 256 << 20);
    return mlo::cli::run(argc, argv);
}
