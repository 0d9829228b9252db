#pragma once

namespace mlo {

// Installs SIGINT/SIGTERM handlers that only set a flag; long loops poll it through
// check_interrupted() so that cleanup runs by unwinding. A second signal kills at once.
void install_interrupt_handlers();
bool interrupted();
// Throws Interrupted when a signal arrived.
void check_interrupted();
// For tests: set or clear the flag by hand.
void set_interrupted(bool value);
// The number of the signal that interrupted us (SIGINT, SIGTERM), 0 if none.
int interrupt_signal();

}  // namespace mlo
