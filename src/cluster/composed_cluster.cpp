#include "cluster/composed_cluster.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "lag/error.hpp"

namespace lag {

template <class T>
ComposedCluster<T>::ComposedCluster(int workers, std::shared_ptr<void> context,
                                    std::unique_ptr<Workers<T>> local,
                                    std::unique_ptr<Server<T>> server, std::unique_ptr<Wire> wire)
    : context_(std::move(context)),
      workers_total_(workers),
      params_(local->params()),
      block_(mpi::worker_block(workers, wire->size(), wire->rank())),
      workers_(std::move(local)),
      server_(std::move(server)),
      wire_(std::move(wire)) {
  const int R = wire_->size();
  mpi::require_a_worker_per_rank(workers_total_, R);
  if (workers_->count() != static_cast<std::size_t>(block_.count))
    throw Error("internal: the rank's workers are not its block");
  for (int m = 0; m < workers_total_; ++m) rank_of_.push_back(mpi::rank_of_worker(workers, R, m));
  // The largest messages: the first rank's packed uploads, and the step's theta and norm.
  const std::size_t largest = std::max(
      static_cast<std::size_t>(mpi::worker_block(workers, R, 0).count) * params_ * sizeof(T),
      params_ * sizeof(T) + sizeof(double));
  if (R > 1 && largest > wire_->max_message())
    throw Error("a message of " + std::to_string(largest) + " bytes is too large for one " +
                "message of this transport; use fewer workers per rank");
}

template <class T>
const Flags& ComposedCluster<T>::local(const Flags& global) {
  const auto first = static_cast<std::ptrdiff_t>(block_.first);
  local_flags_.assign(global.begin() + first, global.begin() + first + block_.count);
  return local_flags_;
}

template <class T>
void ComposedCluster<T>::reset(const std::vector<double>& theta0, const Sampling& sampling) {
  // Every rank starts from the same theta0, so the replicas start current without a message.
  server_->reset(theta0);
  workers_->reset(sampling, static_cast<std::size_t>(block_.first));
  physical_up_ = physical_down_ = 0;
  wire_->wait("the reset of the workers");
}

template <class T>
void ComposedCluster<T>::compute(const Flags& selected) {
  wire_->at_iteration();
  workers_->compute(local(selected), server_->theta());
}

template <class T>
void ComposedCluster<T>::select_and_compute(double tau,
                                            const std::vector<double>& worker_smoothness,
                                            const Flags& forced, Flags& selected) {
  const auto M = static_cast<std::size_t>(workers_total_);
  const char* during = "the broadcast of the server's requests";
  std::uint8_t* flags = server_->flags();
  if (server_rank()) server_->ps_select(tau, worker_smoothness, flags);
  if (ranks() > 1) {
    wire_->broadcast(flags, M, 0, during);
    physical_down_ += others() * M;
  }
  selected.resize(M);
  wire_->download(selected.data(), flags, M);
  wire_->wait(during, server_rank() ? -1 : 0);
  // The forced ones are known on every rank: they need no message.
  for (std::size_t m = 0; m < M && m < forced.size(); ++m)
    if (forced[m]) selected[m] = 1;
  compute(selected);
}

template <class T>
void ComposedCluster<T>::trigger(const Round& round, const Flags& selected, Flags& fire) {
  workers_->prepare(round, local(selected));
  if (round.trigger == Round::Trigger::None || round.forced) {
    fire = selected;  // known on every rank: nothing to agree
    return;
  }
  const auto M = static_cast<std::size_t>(workers_total_);
  const char* during = "the exchange of trigger flags";
  std::uint8_t* flags = server_->flags();
  workers_->trigger(round, local(selected), flags, static_cast<std::size_t>(block_.first), M);
  if (ranks() > 1) {
    wire_->max_bytes(flags, M, during);
    physical_up_ += others() * M;
    physical_down_ += others() * M;
  }
  fire.resize(M);
  wire_->download(fire.data(), flags, M);
  wire_->wait(during);
}

template <class T>
void ComposedCluster<T>::upload(const Flags& senders, const Round& round) {
  const int R = ranks();
  const bool replace = round.upload == Round::Upload::Gradient;
  const std::size_t payload_bytes = round.payload_bytes(params_, sizeof(T));
  // How many senders each rank holds: known on every rank from the agreed flags.
  std::vector<std::size_t>& sending = sending_;
  sending.assign(static_cast<std::size_t>(R), 0);
  std::size_t total = 0;
  for (std::size_t m = 0; m < senders.size(); ++m)
    if (senders[m]) {
      ++sending[static_cast<std::size_t>(rank_of_[m])];
      ++total;
    }
  if (total == 0 && !replace) return;  // nobody sends: nothing moves and nothing changes
  // A compressed payload can outweigh a vector (Top-k with k near d): the constructor's check
  // covered vectors.
  for (int r = 1; r < R; ++r)
    if (sending[static_cast<std::size_t>(r)] * payload_bytes > wire_->max_message())
      throw Error("rank " + std::to_string(r) + "'s uploads of " +
                  std::to_string(sending[static_cast<std::size_t>(r)] * payload_bytes) +
                  " bytes are too large for one message of this transport; use a smaller --topk "
                  "or fewer workers per rank");
  for (int r = 1; r < R; ++r) physical_up_ += sending[static_cast<std::size_t>(r)] * payload_bytes;
  const Flags& mine = local(senders);
  const auto commit_senders = [&] {
    for (std::size_t i = 0; i < mine.size(); ++i)
      if (mine[i]) workers_->commit(i, round);
  };

  if (!server_rank()) {
    const std::size_t n = sending[static_cast<std::size_t>(wire_->rank())];
    if (n == 0) return;
    wire_->send(workers_->pack(mine, round), n * payload_bytes, 0, "the upload to rank 0");
    commit_senders();
    return;  // complete at the step's wait
  }

  server_->begin_upload(replace);
  const bool remote =
      std::any_of(sending.begin() + 1, sending.end(), [](std::size_t n) { return n > 0; });
  const char* during = "the uploads to rank 0";
  if (remote) {
    wire_->group_begin(during);
    for (int r = 1; r < R; ++r) {
      const std::size_t n = sending[static_cast<std::size_t>(r)];
      if (n > 0) wire_->recv(server_->inbox(r, n * payload_bytes), n * payload_bytes, r, during);
    }
    wire_->group_end(during);
  }
  // Rank 0's own senders first (the lowest worker indices), then rank by rank, each rank's
  // senders in worker order: global worker order.
  for (std::size_t i = 0; i < mine.size(); ++i)
    if (mine[i]) server_->add(workers_->upload_payload(i, round), round);
  commit_senders();
  if (remote) {
    wire_->fence(during, -1);
    for (int r = 1; r < R; ++r)
      for (std::size_t j = 0; j < sending[static_cast<std::size_t>(r)]; ++j)
        server_->add(server_->inbox(r, 0) + j * payload_bytes, round);
  }
  for (std::size_t m = 0; m < senders.size(); ++m)
    if (senders[m]) server_->sent(m);
}

template <class T>
double ComposedCluster<T>::step(double step_size) {
  if (server_rank()) server_->step(step_size);
  workers_->mark_stale();
  double* change2 = server_->scalars() + Server<T>::kChange2;
  const char* during = "the broadcast of theta";
  if (ranks() > 1) {
    wire_->group_begin(during);
    wire_->broadcast_pieces({{server_->theta(), params_ * sizeof(T)}, {change2, sizeof(double)}}, 0,
                            during);
    wire_->group_end(during);
    physical_down_ += others() * (params_ * sizeof(T) + sizeof(double));
  }
  double result = 0;
  wire_->download(&result, change2, sizeof result);
  // Rank 0's wait also covers the receives of this iteration's uploads; the others', their sends.
  wire_->wait(during, server_rank() ? -1 : 0);
  return result;
}

template <class T>
Evaluation ComposedCluster<T>::evaluate() {
  T* const theta = server_->theta();
  workers_->compute_missing(theta);
  const int R = ranks(), me = wire_->rank();
  const char* during = "the evaluation's running sum";
  const std::size_t vector_bytes = params_ * sizeof(T);
  T* sum = server_->running_sum();
  if (me > 0) {
    wire_->recv(sum, vector_bytes, me - 1, during);
    wire_->fence(during, me - 1);
  } else {
    server_->zero(sum);
  }
  workers_->add_gradients(sum);
  double* norm2 = server_->scalars() + Server<T>::kGradNorm2;
  if (me + 1 < R)
    wire_->send(sum, vector_bytes, me + 1, during);
  else
    server_->norm2(sum, norm2);
  const std::size_t n = workers_->count(), rs = workers_->loss_record_size();
  loss_records_.resize(n * rs);
  for (std::size_t i = 0; i < n; ++i)
    wire_->download(loss_records_.data() + i * rs, workers_->loss_record(i), rs * sizeof(double));
  double grad_norm2 = 0;
  if (me + 1 == R) wire_->download(&grad_norm2, norm2, sizeof grad_norm2);
  wire_->wait(during, me > 0 ? me - 1 : -1);

  // The loss: the workers' losses gathered to the last rank and added there in worker order.
  losses_.resize(n);
  for (std::size_t i = 0; i < n; ++i) losses_[i] = workers_->loss(i, loss_records_.data() + i * rs);
  std::vector<int>& counts = block_counts_;
  counts.resize(static_cast<std::size_t>(R));
  for (int r = 0; r < R; ++r)
    counts[static_cast<std::size_t>(r)] = mpi::worker_block(workers_total_, R, r).count;
  wire_->gather(losses_.data(), all_losses_, counts, R - 1, "the gathering of the workers' losses");
  double result[2] = {0.0, 0.0};
  if (me + 1 == R) {
    for (double l : all_losses_) result[0] += l;
    result[1] = std::sqrt(grad_norm2);
  }
  // The last rank holds the result; every engine takes its stopping decisions on it.
  if (R > 1) wire_->broadcast_host(result, 2, R - 1, "the broadcast of the evaluation");
  Evaluation e;
  e.loss = result[0];
  e.grad_norm = result[1];
  return e;
}

template <class T>
std::vector<T> ComposedCluster<T>::theta() const {
  std::vector<T> out(params_);
  wire_->download(out.data(), server_->theta(), params_ * sizeof(T));
  wire_->wait("the copy of theta to the host");
  return out;
}

template <class T>
ClusterState<T> ComposedCluster<T>::save_state() {
  ClusterState<T> state;
  server_->save(state);
  workers_->save(state);
  return state;
}

template <class T>
void ComposedCluster<T>::restore_state(const ClusterState<T>& state) {
  // Sizes first: nothing is loaded from a state that is not this cluster's.
  const std::size_t d = params_, M = static_cast<std::size_t>(workers_total_);
  const bool root = server_rank();
  const auto check = [](const char* what, std::size_t have, std::size_t want) {
    if (have != want)
      throw Error(std::string("the saved state's ") + what + " has " + std::to_string(have) +
                  " values; this run needs " + std::to_string(want));
  };
  check("theta", state.theta.size(), d);
  check("aggregate", state.aggregate.size(), root ? d : 0);
  check("theta_hat", state.theta_hat.size(), root ? M * d : 0);
  const std::size_t n = workers_->count();
  check("g_hat", state.g_hat.size(), n * d);
  if (!state.g_prev.empty()) check("g_prev", state.g_prev.size(), n * d);
  if (!state.worker_theta_hat.empty())
    check("workers' theta_hat", state.worker_theta_hat.size(), n * d);
  constexpr std::size_t S = ClusterState<T>::kWorkerScalars;
  check("worker scalars", state.worker_scalars.size(), S * n);
  const auto count = [](double v) { return v >= 0 && v <= 0x1p53 && v == std::floor(v); };
  for (std::size_t i = 0; i < n; ++i) {
    // LAQ's last quantization error, the rounds skipped and the rows drawn (integer counts).
    const double eps_hat = state.worker_scalars[S * i];
    if (!(eps_hat >= 0) || !std::isfinite(eps_hat) || !count(state.worker_scalars[S * i + 1]) ||
        !count(state.worker_scalars[S * i + 2]))
      throw Error("the saved state of worker " +
                  std::to_string(block_.first + static_cast<int>(i)) +
                  " is damaged (its quantization error, skip count or rows drawn are impossible)");
  }
  server_->load(state);
  workers_->load(state);
}

template <class T>
void ComposedCluster<T>::take_physical_bytes(std::uint64_t& up, std::uint64_t& down) {
  up = physical_up_;
  down = physical_down_;
  physical_up_ = physical_down_ = 0;
}

template class ComposedCluster<float>;
template class ComposedCluster<double>;

}  // namespace lag
