#pragma once

namespace mlo::cli {

// The whole program: parses arguments, opens what the command needs, runs it, prints errors as
// "mlo: error: …" and returns the exit code (0, 1, 2 or 130; see docs/ARCHITECTURE.md).
int run(int argc, char** argv);

}  // namespace mlo::cli
