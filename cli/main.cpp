#include "cli/cli.hpp"

int main(int argc, char** argv) {
    return mlo::cli::run(argc, argv);
}
