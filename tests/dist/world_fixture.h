#pragma once

#include "core/comm/world.h"

namespace dtbench::test {
extern World* g_world;  // set by main() for the whole run
inline Communicator& comm() { return *g_world->comm; }
}  // namespace dtbench::test
