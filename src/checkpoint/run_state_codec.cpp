#include "checkpoint/run_state_codec.hpp"

#include "lag/error.hpp"

namespace lag {

namespace {

void put_traffic(MessageWriter& out, const Traffic& t) {
  for (std::uint64_t v :
       {t.uploads, t.computes, t.receivers, t.bytes_up, t.bytes_down, t.control_bytes,
        t.physical_bytes_up, t.physical_bytes_down, t.gd_equivalent_bytes_up})
    out.put(v);
}

Traffic get_traffic(MessageReader& in) {
  Traffic t;
  for (std::uint64_t* v :
       {&t.uploads, &t.computes, &t.receivers, &t.bytes_up, &t.bytes_down, &t.control_bytes,
        &t.physical_bytes_up, &t.physical_bytes_down, &t.gd_equivalent_bytes_up})
    *v = in.u64();
  return t;
}

void put_test(MessageWriter& out, const TestMetrics& t) {
  out.put(t.loss);
  out.put(t.accuracy);
}

TestMetrics get_test(MessageReader& in) {
  TestMetrics t;
  t.loss = in.f64();
  t.accuracy = in.f64();
  return t;
}

void put_i64(MessageWriter& out, std::int64_t v) { out.put(static_cast<std::uint64_t>(v)); }
std::int64_t get_i64(MessageReader& in) { return static_cast<std::int64_t>(in.u64()); }

void put_epochs(MessageWriter& out, const std::vector<EpochRow>& epochs) {
  out.put(static_cast<std::uint64_t>(epochs.size()));
  for (const EpochRow& e : epochs) {
    put_i64(out, e.epoch);
    put_i64(out, e.iteration);
    put_traffic(out, e.spent);
    put_traffic(out, e.cumulative);
    out.put(e.loss);
    put_test(out, e.test);
    out.put(e.wall_seconds);
  }
}

// The bytes put_epochs writes per row: two counts, two Traffics, loss, test loss and accuracy,
// wall seconds.
constexpr std::size_t kEpochRowBytes = 8 * (2 + 2 * 9 + 4);

std::vector<EpochRow> get_epochs(MessageReader& in) {
  const std::size_t n = in.size();
  if (n > in.remaining() / kEpochRowBytes) throw Error("a saved list of epochs ends early");
  std::vector<EpochRow> epochs(n);
  for (EpochRow& e : epochs) {
    e.epoch = get_i64(in);
    e.iteration = get_i64(in);
    e.spent = get_traffic(in);
    e.cumulative = get_traffic(in);
    e.loss = in.f64();
    e.test = get_test(in);
    e.wall_seconds = in.f64();
  }
  return epochs;
}

}  // namespace

void put_engine_state(MessageWriter& out, const EngineState& s) {
  put_i64(out, s.iteration);
  out.put_array(s.recent_steps);
  put_traffic(out, s.total);
  put_traffic(out, s.last);
  out.put(s.planner_random);
  out.put_array(s.planner_skipped);
  put_epochs(out, s.epochs);
  out.put_array(s.last_senders);
  for (double v : {s.initial_loss, s.train_seconds, s.eval_seconds, s.final_loss, s.objective_error,
                   s.grad_norm})
    out.put(v);
  put_test(out, s.test);
}

EngineState get_engine_state(MessageReader& in) {
  EngineState s;
  s.iteration = get_i64(in);
  s.recent_steps = in.array<double>();
  s.total = get_traffic(in);
  s.last = get_traffic(in);
  s.planner_random = in.str();
  s.planner_skipped = in.array<std::int64_t>();
  s.epochs = get_epochs(in);
  s.last_senders = in.array<std::uint8_t>();
  for (double* v : {&s.initial_loss, &s.train_seconds, &s.eval_seconds, &s.final_loss,
                    &s.objective_error, &s.grad_norm})
    *v = in.f64();
  s.test = get_test(in);
  return s;
}

template <class T>
void put_cluster_state(MessageWriter& out, const ClusterState<T>& s) {
  out.put(static_cast<std::uint64_t>(sizeof(T)));
  out.put_array(s.theta);
  out.put_array(s.aggregate);
  out.put_array(s.theta_hat);
  out.put_array(s.g_hat);
  out.put_array(s.g_prev);
  out.put_array(s.worker_theta_hat);
  out.put_array(s.worker_scalars);
}

template <class T>
ClusterState<T> get_cluster_state(MessageReader& in) {
  const std::uint64_t value_bytes = in.u64();
  if (value_bytes != sizeof(T))
    throw Error("the saved state holds " + std::to_string(8 * value_bytes) +
                "-bit values; this run computes in " + std::to_string(8 * sizeof(T)) + "-bit");
  ClusterState<T> s;
  s.theta = in.array<T>();
  s.aggregate = in.array<T>();
  s.theta_hat = in.array<T>();
  s.g_hat = in.array<T>();
  s.g_prev = in.array<T>();
  s.worker_theta_hat = in.array<T>();
  s.worker_scalars = in.array<double>();
  return s;
}

template void put_cluster_state<float>(MessageWriter&, const ClusterState<float>&);
template void put_cluster_state<double>(MessageWriter&, const ClusterState<double>&);
template ClusterState<float> get_cluster_state<float>(MessageReader&);
template ClusterState<double> get_cluster_state<double>(MessageReader&);

void put_run_result(MessageWriter& out, const RunResult& r) {
  out.put(std::string(algorithm_name(r.algorithm)));
  out.put(r.alpha);
  out.put(r.xi);
  put_i64(out, r.iterations);
  put_traffic(out, r.total);
  for (double v : {r.final_loss, r.objective_error, r.grad_norm}) out.put(v);
  put_test(out, r.test);
  out.put(static_cast<std::uint64_t>(r.stop_reason));
  out.put(r.message);
  out.put(r.wall_seconds);
  out.put(r.eval_seconds);
  out.put_array(r.theta);
  out.put(static_cast<std::uint64_t>(r.batch_size));
  put_i64(out, r.iterations_per_epoch);
  out.put(std::string(step_schedule_name(r.schedule)));
  put_epochs(out, r.epochs);
}

RunResult get_run_result(MessageReader& in) {
  RunResult r;
  r.algorithm = parse_algorithm(in.str());
  r.alpha = in.f64();
  r.xi = in.f64();
  r.iterations = get_i64(in);
  r.total = get_traffic(in);
  for (double* v : {&r.final_loss, &r.objective_error, &r.grad_norm}) *v = in.f64();
  r.test = get_test(in);
  const std::uint64_t reason = in.u64();
  if (reason > static_cast<std::uint64_t>(StopReason::Interrupted))
    throw Error("a saved run result has an unknown stop reason");
  r.stop_reason = static_cast<StopReason>(reason);
  r.message = in.str();
  r.wall_seconds = in.f64();
  r.eval_seconds = in.f64();
  r.theta = in.array<double>();
  r.batch_size = in.size();
  r.iterations_per_epoch = get_i64(in);
  r.schedule = parse_step_schedule(in.str());
  r.epochs = get_epochs(in);
  return r;
}

}  // namespace lag
