#include "storage/interrupt.hpp"

#include <atomic>
#include <csignal>

#include "storage/error.hpp"

namespace mlo {
namespace {

std::atomic<int> g_signal{0};

extern "C" void on_signal(int sig) {
    g_signal.store(sig);
    // The next one is not ours to soften: restore the default so a second Ctrl-C kills.
    std::signal(sig, SIG_DFL);
}

}  // namespace

void install_interrupt_handlers() {
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;  // no SA_RESTART: blocking calls return EINTR and notice the flag sooner
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
}

bool interrupted() {
    return g_signal.load(std::memory_order_relaxed) != 0;
}

int interrupt_signal() {
    return g_signal.load();
}

void check_interrupted() {
    if (interrupted()) throw Interrupted();
}

void set_interrupted(bool value) {
    g_signal.store(value ? SIGINT : 0);
}

}  // namespace mlo
