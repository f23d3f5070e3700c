// The bytes of a run's state in a checkpoint (docs/architecture.md §6): the engine's state, a
// cluster's (this process's part) and the results of finished runs, each read back exactly as
// written (numbers as their bits). Readers throw lag::Error when the bytes end early.
#pragma once

#include "lag/cluster.hpp"
#include "lag/engine.hpp"
#include "lag/process_group.hpp"

namespace lag {

void put_engine_state(MessageWriter& out, const EngineState& state);
EngineState get_engine_state(MessageReader& in);

template <class T>
void put_cluster_state(MessageWriter& out, const ClusterState<T>& state);
template <class T>
ClusterState<T> get_cluster_state(MessageReader& in);

template <class T>
void put_run_state(MessageWriter& out, const RunState<T>& state) {
  put_engine_state(out, state.engine);
  put_cluster_state(out, state.cluster);
}
template <class T>
RunState<T> get_run_state(MessageReader& in) {
  RunState<T> s;
  s.engine = get_engine_state(in);
  s.cluster = get_cluster_state<T>(in);
  return s;
}

void put_run_result(MessageWriter& out, const RunResult& result);
RunResult get_run_result(MessageReader& in);

}  // namespace lag
