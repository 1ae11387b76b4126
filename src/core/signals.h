// Waiting for process signals on a reactor (signalfd read through the ring).
#pragma once

#include <initializer_list>

#include "core/status.h"
#include "core/task.h"

namespace ms {

// Blocks `signals` for the whole process. Call before starting any thread.
void block_signals(std::initializer_list<int> signals);

// Waits until one of `signals` (already blocked) arrives; returns its number. Cancelled by
// reactor shutdown (ECANCELED). The list is read at the call, not when the task starts, so a
// braced list may die before the task is awaited.
Task<Result<int>> wait_for_signal(std::initializer_list<int> signals);

}  // namespace ms
