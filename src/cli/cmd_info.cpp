// lag info: what this build can do, and (with --data) what the data looks like to LAG.
#include <cstdio>

#include "cli/commands.hpp"
#include "cli/data_options.hpp"
#include "lag/algorithm.hpp"
#include "lag/build_info.hpp"
#include "lag/heterogeneity.hpp"
#include "lag/smoothness.hpp"
#include "lag/thread_pool.hpp"
#include "model/curvature.hpp"

namespace lag::cli {

namespace {

class InfoCommand final : public Command {
 public:
  explicit InfoCommand(CLI::App& app) {
    CLI::App* c = app.add_subcommand(
        "info",
        "Show the build configuration and the devices found; with --data, the per-worker rows "
        "and smoothness constants L_m, the global L, the step size, and the heterogeneity "
        "profile.");
    add_data_options(*c, data_);
    c->add_option("--depth,-D", depth_, "D, for the heterogeneity profile")->capture_default_str();
    c->add_option("--alpha", alpha_, "Step size to report (default 1/L)");
  }

  int run() override {
    const BuildInfo b = build_info();
    std::printf("lag %s\n", b.version.c_str());
    std::printf("precisions: ");
    for (std::size_t i = 0; i < b.precisions.size(); ++i)
      std::printf("%s%s", i ? ", " : "", b.precisions[i].c_str());
    std::printf("\nCPU kernels: %s\n", b.cpu_arch.c_str());
    std::printf("CUDA: %s\n", b.cuda ? ("yes (toolkit " + b.cuda_version + ")").c_str() : "no");
    std::printf("NCCL: %s\nMPI: %s\n", b.nccl ? "yes" : "no", b.mpi ? "yes" : "no");
    std::string why;
    const auto devices = cuda_devices(&why);
    if (devices.empty()) std::printf("devices: none (%s)\n", why.c_str());
    for (const auto& d : devices)
      std::printf("device %d: %s, %.1f GiB, compute capability %d.%d\n", d.index, d.name.c_str(),
                  d.memory_gib, d.compute_major, d.compute_minor);
    if (data_.paths.empty()) return kExitOk;

    TrainingData loaded = load_training_data(data_);
    for (const auto& n : loaded.notices) std::printf("%s\n", n.c_str());
    const Dataset<double>& data = loaded.train;
    const ModelSpec& model = loaded.model;
    ThreadPool pool(0);
    const Smoothness s =
        model_smoothness(data, model, initial_parameters(model, data.dim, data_.seed), pool);
    std::printf("\ndata: %d workers, %zu rows, %zu features, model %s\n", data.workers(),
                data.total_rows(), data.dim, model_name(model.kind));
    std::printf("%-8s %10s %14s  %s\n", "worker", "rows", "L_m", "source");
    for (int m = 0; m < data.workers(); ++m)
      std::printf("%-8d %10zu %14.6g  %s\n", m + 1, data.shards[m].rows, s.worker[m],
                  data.shards[m].source.c_str());
    std::printf("global L = %.6g; step alpha = %.6g%s\n", s.global,
                alpha_or_default(alpha_, s.global), alpha_ > 0 ? "" : " (1/L)");
    std::printf("\nheterogeneity profile (fraction of workers with L_m <= sqrt(gamma) L / M):\n");
    std::printf("%4s %12s %10s\n", "k", "gamma", "fraction");
    for (const auto& p : heterogeneity_profile(s.worker, s.global, depth_))
      std::printf("%4d %12.6g %10.3f\n", p.k, p.gamma, p.fraction);
    return kExitOk;
  }

 private:
  DataOptions data_;
  int depth_ = 10;
  double alpha_ = 0;
};

}  // namespace

std::unique_ptr<Command> add_info_command(CLI::App& app) {
  return std::make_unique<InfoCommand>(app);
}

}  // namespace lag::cli
