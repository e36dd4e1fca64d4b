// Constructive starts + simulated annealing over (order, modes); see heuristic.h.
#include "solver/heuristic.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <numeric>
#include <random>
#include <thread>

#include "solver/bounds.h"

namespace saturn::solver {
namespace {

struct Genome {
  std::vector<int> order;
  std::vector<int> modes;
};

int least_area_mode(const Job& job, double max_duration) {
  int best = -1;
  for (int m = 0; m < static_cast<int>(job.modes.size()); ++m) {
    const Mode& mode = job.modes[m];
    if (mode.duration_s > max_duration) continue;
    if (best < 0 || mode.area() < job.modes[best].area() ||
        (mode.area() == job.modes[best].area() && mode.duration_s < job.modes[best].duration_s)) {
      best = m;
    }
  }
  return best;
}

int fastest_mode(const Job& job) {
  int best = 0;
  for (int m = 1; m < static_cast<int>(job.modes.size()); ++m) {
    const Mode& a = job.modes[m];
    const Mode& b = job.modes[best];
    if (a.duration_s < b.duration_s || (a.duration_s == b.duration_s && a.gpus < b.gpus)) best = m;
  }
  return best;
}

int widest_mode(const Job& job) {
  int best = 0;
  for (int m = 1; m < static_cast<int>(job.modes.size()); ++m) {
    const Mode& a = job.modes[m];
    const Mode& b = job.modes[best];
    if (a.gpus > b.gpus || (a.gpus == b.gpus && a.duration_s < b.duration_s)) best = m;
  }
  return best;
}

// Mode per job: the least-area mode whose duration fits `horizon`, else the fastest.
std::vector<int> modes_for_horizon(const Instance& instance, double horizon) {
  std::vector<int> modes;
  for (const Job& job : instance.jobs) {
    const int m = least_area_mode(job, horizon);
    modes.push_back(m >= 0 ? m : fastest_mode(job));
  }
  return modes;
}

std::vector<int> order_by(const Instance& instance, const std::vector<int>& modes, int rule) {
  std::vector<int> order(instance.jobs.size());
  std::iota(order.begin(), order.end(), 0);
  auto key = [&](int j) {
    const Mode& m = instance.jobs[j].modes[modes[j]];
    switch (rule) {
      case 0:
        return std::make_pair(m.duration_s, m.area());
      case 1:
        return std::make_pair(m.area(), m.duration_s);
      default:
        return std::make_pair(static_cast<double>(m.gpus), m.duration_s);
    }
  };
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return key(a) > key(b); });
  return order;
}

double score(const Schedule& s) {
  return s.makespan_s + 0.01 * s.total_completion_s / std::max<size_t>(1, s.jobs.size());
}

class Search {
 public:
  // `solved` is shared by the searches that run side by side: set when one reaches the target.
  Search(const Instance& instance, const HeuristicOptions& options, std::atomic<bool>* solved)
      : instance_(instance), options_(options), rng_(options.seed), solved_(solved) {
    budget_ = options.max_evaluations > 0 ? options.max_evaluations : default_evaluations(instance);
  }

  HeuristicResult run(const Schedule* warm_start) {
    const double lb = options_.target_s > 0 ? options_.target_s : bound_instance(instance_).best_s;
    std::vector<std::vector<int>> mode_sets = {modes_for_horizon(instance_, 1e300)};
    for (double f : {1.0, 1.03, 1.1, 1.25, 1.5, 2.0}) {
      mode_sets.push_back(modes_for_horizon(instance_, lb * f));
    }
    std::vector<int> fastest;
    for (const Job& job : instance_.jobs) fastest.push_back(fastest_mode(job));
    mode_sets.push_back(fastest);
    // Widest modes: with the longest-first order this is "each job gets a whole node, in
    // sequence", so the search never returns anything worse than that practice.
    std::vector<int> widest;
    for (const Job& job : instance_.jobs) widest.push_back(widest_mode(job));
    mode_sets.push_back(widest);
    if (warm_start && !warm_start->empty()) {
      Genome g;
      g.order.resize(instance_.jobs.size());
      std::iota(g.order.begin(), g.order.end(), 0);
      std::stable_sort(g.order.begin(), g.order.end(), [&](int a, int b) {
        return warm_start->jobs[a].start_s < warm_start->jobs[b].start_s;
      });
      for (const Placement& p : warm_start->jobs) g.modes.push_back(p.mode);
      consider(g);
    }
    // Past the deadline, the first constructed schedule is the plan: the time limit is the
    // user's, also on instances where one construction takes much of it.
    for (const auto& modes : mode_sets) {
      for (int rule = 0; rule < 3; ++rule) {
        if (!best_.empty() && past_deadline()) break;
        consider(Genome{order_by(instance_, modes, rule), modes});
      }
    }
    anneal();
    result_.best = best_;
    result_.alternatives = std::move(alternatives_);
    result_.evaluations = evaluations_;
    return result_;
  }

 private:
  bool done() {
    if (evaluations_ >= budget_) return true;

    if (options_.stop_at_target && options_.target_s > 0 &&
        best_.makespan_s <= options_.target_s * (1 + 1e-9)) {
      solved_->store(true);
      return true;
    }
    if (solved_->load(std::memory_order_relaxed)) return true;
    return past_deadline();
  }

  // Read on every evaluation: a clock read is ~25 ns, an evaluation from microseconds (small
  // instances) to a second (50,000 jobs), and every one past the limit is the user's time.
  bool past_deadline() {
    if (std::chrono::steady_clock::now() < options_.deadline) return false;
    result_.hit_deadline = true;
    return true;
  }

  // Decodes `g`, then justifies the schedule; when that helps, `g`'s order becomes the
  // justified schedule's start order so that later moves start from it.
  Schedule evaluate(Genome& g) {
    ++evaluations_;
    Schedule s = decode(instance_, g.order, g.modes);
    Schedule j = justify(instance_, s);
    if (!better(j, s)) return s;
    std::stable_sort(g.order.begin(), g.order.end(),
                     [&](int a, int b) { return j.jobs[a].start_s < j.jobs[b].start_s; });
    return j;
  }

  // Keeps `s` among the best distinct schedules seen, when alternatives are wanted.
  void offer(const Schedule& s) {
    const size_t limit = static_cast<size_t>(std::max(0, options_.alternatives));
    if (limit == 0 || (alternatives_.size() == limit && !better(s, alternatives_.back()))) return;
    const auto pos = std::lower_bound(alternatives_.begin(), alternatives_.end(), s, better);
    const auto same = [&](const Schedule& o) { return !better(o, s) && !better(s, o); };
    if ((pos != alternatives_.end() && same(*pos)) ||
        (pos != alternatives_.begin() && same(*std::prev(pos)))) {
      return;
    }
    alternatives_.insert(pos, s);
    if (alternatives_.size() > limit) alternatives_.pop_back();
  }

  void consider(Genome g) {
    Schedule s = evaluate(g);
    offer(s);
    if (best_.empty() || better(s, best_)) {
      best_ = s;
      best_genome_ = g;
      last_improvement_ = evaluations_;
    }
  }

  int pick_critical(const Schedule& s) {
    std::vector<int> critical;
    for (size_t j = 0; j < s.jobs.size(); ++j) {
      if (s.jobs[j].end_s >= s.makespan_s * (1 - 1e-9)) critical.push_back(static_cast<int>(j));
    }
    return critical[std::uniform_int_distribution<size_t>(0, critical.size() - 1)(rng_)];
  }

  // One random neighbour of `g` (whose schedule is `s`).
  Genome neighbour(const Genome& g, const Schedule& s) {
    Genome next = g;
    const int n = static_cast<int>(g.order.size());
    std::uniform_real_distribution<double> coin(0, 1);
    const double r = coin(rng_);
    const bool critical = coin(rng_) < 0.5;
    const int job =
        critical ? pick_critical(s) : std::uniform_int_distribution<int>(0, n - 1)(rng_);
    const std::vector<Mode>& modes = instance_.jobs[job].modes;
    if (r < 0.3 && modes.size() > 1) {
      const int count = static_cast<int>(modes.size());
      int m = std::uniform_int_distribution<int>(0, count - 2)(rng_);
      if (m >= g.modes[job]) ++m;
      next.modes[job] = m;
    } else if (r < 0.65 && n > 1) {
      const int from =
          static_cast<int>(std::find(g.order.begin(), g.order.end(), job) - g.order.begin());
      const int to = critical ? std::uniform_int_distribution<int>(0, from)(rng_)
                              : std::uniform_int_distribution<int>(0, n - 1)(rng_);
      next.order.erase(next.order.begin() + from);
      next.order.insert(next.order.begin() + to, job);
    } else if (n > 1) {
      const int a = std::uniform_int_distribution<int>(0, n - 1)(rng_);
      const int b = std::uniform_int_distribution<int>(0, n - 1)(rng_);
      std::swap(next.order[a], next.order[b]);
    }
    return next;
  }

  void anneal() {
    if (instance_.jobs.empty()) return;
    Genome current = best_genome_;
    Schedule current_s = best_;
    const double t0 = 0.01 * best_.makespan_s;
    const double t1 = 1e-5 * best_.makespan_s;
    const long steps = std::max<long>(1, budget_ - evaluations_);
    const long start = evaluations_;
    long since_best = 0;
    std::uniform_real_distribution<double> coin(0, 1);
    while (!done()) {
      const double progress = static_cast<double>(evaluations_ - start) / steps;
      const double temperature = t0 * std::pow(t1 / t0, std::min(1.0, progress));
      Genome next = neighbour(current, current_s);
      Schedule next_s = evaluate(next);
      offer(next_s);
      const double delta = score(next_s) - score(current_s);
      if (delta <= 0 || coin(rng_) < std::exp(-delta / temperature)) {
        current = std::move(next);
        current_s = std::move(next_s);
        if (better(current_s, best_)) {
          best_ = current_s;
          best_genome_ = current;
          last_improvement_ = evaluations_;
          since_best = 0;
          continue;
        }
      }
      // Wandered too long without a new best: restart from a perturbed copy of it.
      if (++since_best > 2000 + 50 * static_cast<long>(instance_.jobs.size())) {
        current = best_genome_;
        current_s = best_;
        const int kicks = 2 + static_cast<int>(instance_.jobs.size()) / 8;
        for (int k = 0; k < kicks; ++k) current = neighbour(current, current_s);
        current_s = evaluate(current);
        since_best = 0;
      }
    }
  }

  const Instance& instance_;
  HeuristicOptions options_;
  std::mt19937_64 rng_;
  long budget_ = 0;
  long evaluations_ = 0;
  long last_improvement_ = 0;
  Schedule best_;
  Genome best_genome_;
  HeuristicResult result_;
  std::vector<Schedule> alternatives_;  // sorted by better(), distinct
  std::atomic<bool>* solved_;
};

}  // namespace

long default_evaluations(const Instance& instance) {
  // Per search, about 1.6 s of work on the 2-core development VM (one evaluation = decode +
  // justify = three decodes; a decode costs about jobs x jobs-per-node), measured with
  // bench_planner. Longer searches did not pay there: five times the budget left 100- and
  // 500-job plans unchanged. A slower machine hits the deadline first, and the result then
  // depends on its speed.
  const double n = static_cast<double>(instance.jobs.size()) + 1;
  const double per_node = n / std::max(1, instance.num_nodes()) + 2;
  const double work = n * per_node * instance.num_nodes();
  return static_cast<long>(std::clamp(2.1e8 / work, 3000.0, 560000.0));
}

HeuristicResult run_heuristic(const Instance& instance, const HeuristicOptions& options,
                              const Schedule* warm_start) {
  int searches = options.searches;
  if (searches <= 0) {
    searches = std::clamp(static_cast<int>(std::thread::hardware_concurrency()), 1, kMaxSearches);
  }
  HeuristicOptions shared = options;
  if (shared.target_s <= 0) shared.target_s = bound_instance(instance).best_s;
  std::vector<HeuristicResult> results(searches);
  std::atomic<bool> solved{false};
  const auto search = [&](int k) {
    HeuristicOptions own = shared;
    // Distinct, reproducible streams; search 0 keeps the caller's seed.
    own.seed = options.seed + 0x9E3779B97F4A7C15ULL * static_cast<std::uint64_t>(k);
    results[k] = Search(instance, own, &solved).run(warm_start);
  };
  std::vector<std::thread> threads;
  for (int k = 1; k < searches; ++k) threads.emplace_back(search, k);
  search(0);
  for (std::thread& t : threads) t.join();
  HeuristicResult out = results[0];
  for (int k = 1; k < searches; ++k) {
    out.evaluations += results[k].evaluations;
    out.hit_deadline = out.hit_deadline || results[k].hit_deadline;
    if (better(results[k].best, out.best)) out.best = results[k].best;
    for (Schedule& s : results[k].alternatives) out.alternatives.push_back(std::move(s));
  }
  std::stable_sort(out.alternatives.begin(), out.alternatives.end(), better);
  return out;
}

}  // namespace saturn::solver
