// What the global options say about how to print: verbosity (-q = 0, default 1, +1 per -v) and
// size units (-u).
#pragma once

#include "mayastor-client/size_format.h"

namespace ms::client {

struct Style {
    int verbosity = 1;
    Units units = Units::Default;
};

}  // namespace ms::client
