// The resource-flow MILP; see flow_milp.h for the formulation.
#include "solver/flow_milp.h"

#include <algorithm>
#include <map>
#include <numeric>
#include <string>

#include <fmt/format.h>

#include "solver/mip.h"

namespace saturn::solver {
namespace {

struct Option {
  int mode = -1;  // -1 for a block
  int node = 0;
  int gpus = 0;
  double duration = 0;
  bool fixed_start = false;
  int var = -1;
};

// A job or a block: something that holds GPUs of one node for a while.
struct Item {
  std::vector<Option> options;
  std::vector<char> on_node;  // per node: some option uses it
  int max_gpus = 0;
  int start_var = -1;
};

// Nodes that are interchangeable: same capacity and every mode fits both or neither.
std::vector<std::vector<int>> identical_node_classes(const Instance& instance) {
  std::map<std::vector<int>, std::vector<int>> classes;
  for (int n = 0; n < instance.num_nodes(); ++n) {
    std::vector<int> signature = {instance.node_gpus[n]};
    for (const Job& job : instance.jobs) {
      for (const Mode& mode : job.modes) {
        signature.push_back(std::find(mode.nodes.begin(), mode.nodes.end(), n) != mode.nodes.end());
      }
    }
    classes[signature].push_back(n);
  }
  std::vector<std::vector<int>> out;
  for (auto& [signature, nodes] : classes) out.push_back(nodes);
  return out;
}

// Renames nodes within each identical class so the k-th node of a class hosts no job with an
// index below k's first job (the symmetry-breaking rule the model imposes).
Schedule canonical_nodes(const Instance& instance, const std::vector<std::vector<int>>& classes,
                         Schedule schedule) {
  for (const std::vector<int>& nodes : classes) {
    std::vector<std::pair<int, int>> first;  // (first job index, node)
    for (int n : nodes) {
      int lowest = static_cast<int>(instance.jobs.size());
      for (size_t j = 0; j < schedule.jobs.size(); ++j) {
        if (schedule.jobs[j].node == n) lowest = std::min(lowest, static_cast<int>(j));
      }
      first.emplace_back(lowest, n);
    }
    std::stable_sort(first.begin(), first.end());
    std::map<int, int> rename;
    for (size_t r = 0; r < nodes.size(); ++r) rename[first[r].second] = nodes[r];
    for (Placement& p : schedule.jobs) {
      if (rename.count(p.node)) p.node = rename[p.node];
    }
  }
  return schedule;
}

}  // namespace

long flow_milp_pairs(const Instance& instance) {
  const long n = static_cast<long>(instance.jobs.size() + instance.blocks.size());
  return n * (n - 1);
}

MilpResult solve_flow_milp(const Instance& instance, const Schedule& warm_in, double lower_bound_s,
                           double seconds, bool log) {
  const int nodes = instance.num_nodes();
  const int jobs = static_cast<int>(instance.jobs.size());
  bool pinned = !instance.blocks.empty();
  for (const Job& job : instance.jobs) {
    for (const Mode& mode : job.modes) pinned = pinned || mode.keep;
  }
  const std::vector<std::vector<int>> classes = identical_node_classes(instance);
  std::vector<int> rank_in_class(nodes, 0);
  if (!pinned) {
    for (const auto& cls : classes) {
      for (size_t r = 0; r < cls.size(); ++r) rank_in_class[cls[r]] = static_cast<int>(r);
    }
  }
  const Schedule warm =
      warm_in.empty() || pinned ? warm_in : canonical_nodes(instance, classes, warm_in);

  // Big-M: no start exceeds the horizon.
  double horizon = 0;
  if (!warm.empty()) {
    horizon = warm.makespan_s;
  } else {
    for (const Job& job : instance.jobs) {
      double longest = 0;
      for (const Mode& mode : job.modes) longest = std::max(longest, mode.duration_s);
      horizon += longest;
    }
    for (const Block& block : instance.blocks) horizon = std::max(horizon, block.until_s) + 0;
  }
  const double big_m = horizon * 1.0001 + 1;

  MipModel mip;
  const int makespan = mip.add_var("C", std::min(lower_bound_s, horizon), big_m, 1.0, false);

  std::vector<Item> items;
  for (int j = 0; j < jobs; ++j) {
    Item item;
    item.on_node.assign(nodes, 0);
    const Job& job = instance.jobs[j];
    for (int m = 0; m < static_cast<int>(job.modes.size()); ++m) {
      const Mode& mode = job.modes[m];
      for (int n : mode.nodes) {
        if (rank_in_class[n] > j) continue;  // symmetry breaking
        Option opt{m, n, mode.gpus, mode.duration_s, mode.keep, -1};
        opt.var = mip.add_var(fmt::format("x_{}_{}_{}", j, m, n), 0, 1, 0, true);
        item.options.push_back(opt);
        item.on_node[n] = 1;
        item.max_gpus = std::max(item.max_gpus, mode.gpus);
      }
    }
    items.push_back(std::move(item));
  }
  for (size_t b = 0; b < instance.blocks.size(); ++b) {
    const Block& block = instance.blocks[b];
    Item item;
    item.on_node.assign(nodes, 0);
    const int g = static_cast<int>(block.gpus.size());
    Option opt{-1, block.node, g, block.until_s, true, -1};
    opt.var = mip.add_var(fmt::format("b_{}", b), 1, 1, 0, false);
    item.options.push_back(opt);
    item.on_node[block.node] = 1;
    item.max_gpus = g;
    items.push_back(std::move(item));
  }
  const int count = static_cast<int>(items.size());

  for (int i = 0; i < count; ++i) {
    Item& item = items[i];
    item.start_var = mip.add_var(fmt::format("s_{}", i), 0, big_m, 0, false);
    std::vector<std::pair<int, double>> one, end;
    for (const Option& o : item.options) {
      one.emplace_back(o.var, 1.0);
      end.emplace_back(o.var, o.duration);
      // A fixed-start option (running task kept, block) starts at 0.
      if (o.fixed_start) mip.add_row({{item.start_var, 1.0}, {o.var, big_m}}, -1e30, big_m);
    }
    mip.add_row(one, 1, 1);
    end.emplace_back(item.start_var, 1.0);
    end.emplace_back(makespan, -1.0);
    mip.add_row(end, -1e30, 0);  // C >= s + duration
  }

  // Per-node area: all work placed on a node fits in its GPUs x C.
  for (int n = 0; n < nodes; ++n) {
    std::vector<std::pair<int, double>> area;
    for (const Item& item : items) {
      for (const Option& o : item.options) {
        if (o.node == n) area.emplace_back(o.var, o.gpus * o.duration);
      }
    }
    area.emplace_back(makespan, -instance.node_gpus[n]);
    mip.add_row(area, -1e30, 0);
  }

  // Pairs: sequencing and resource flow.
  std::vector<std::vector<int>> seq(count, std::vector<int>(count, -1));
  std::map<std::tuple<int, int, int>, int> flow;  // (from, to, node) -> var
  std::vector<std::vector<int>> src(count, std::vector<int>(nodes, -1)), snk = src;
  for (int i = 0; i < count; ++i) {
    for (int n = 0; n < nodes; ++n) {
      if (!items[i].on_node[n]) continue;
      const double cap = instance.node_gpus[n];
      src[i][n] = mip.add_var(fmt::format("src_{}_{}", i, n), 0, cap, 0, false);
      snk[i][n] = mip.add_var(fmt::format("snk_{}_{}", i, n), 0, cap, 0, false);
    }
  }
  for (int i = 0; i < count; ++i) {
    for (int j = 0; j < count; ++j) {
      if (i == j) continue;
      bool share = false;
      for (int n = 0; n < nodes; ++n) share = share || (items[i].on_node[n] && items[j].on_node[n]);
      if (!share) continue;
      seq[i][j] = mip.add_var(fmt::format("z_{}_{}", i, j), 0, 1, 0, true);
      const double bound = std::min(items[i].max_gpus, items[j].max_gpus);
      std::vector<std::pair<int, double>> link = {{seq[i][j], -bound}};
      for (int n = 0; n < nodes; ++n) {
        if (!(items[i].on_node[n] && items[j].on_node[n])) continue;
        const int f = mip.add_var(fmt::format("f_{}_{}_{}", i, j, n), 0, bound, 0, false);
        flow[{i, j, n}] = f;
        link.emplace_back(f, 1.0);
      }
      mip.add_row(link, -1e30, 0);  // flow only along a precedence
      // s_j >= s_i + d_i - M (1 - z_ij)
      std::vector<std::pair<int, double>> order = {
          {items[i].start_var, 1.0}, {items[j].start_var, -1.0}, {seq[i][j], big_m}};
      for (const Option& o : items[i].options) order.emplace_back(o.var, o.duration);
      mip.add_row(order, -1e30, big_m);
    }
  }
  for (int i = 0; i < count; ++i) {
    for (int j = i + 1; j < count; ++j) {
      if (seq[i][j] >= 0) mip.add_row({{seq[i][j], 1.0}, {seq[j][i], 1.0}}, -1e30, 1);
    }
  }
  // Conservation: in = out = GPUs used on the node.
  for (int i = 0; i < count; ++i) {
    for (int n = 0; n < nodes; ++n) {
      if (!items[i].on_node[n]) continue;
      std::vector<std::pair<int, double>> in = {{src[i][n], 1.0}}, out = {{snk[i][n], 1.0}};
      for (int k = 0; k < count; ++k) {
        auto fin = flow.find({k, i, n});
        if (fin != flow.end()) in.emplace_back(fin->second, 1.0);
        auto fout = flow.find({i, k, n});
        if (fout != flow.end()) out.emplace_back(fout->second, 1.0);
      }
      for (const Option& o : items[i].options) {
        if (o.node != n) continue;
        in.emplace_back(o.var, -o.gpus);
        out.emplace_back(o.var, -o.gpus);
      }
      mip.add_row(in, 0, 0);
      mip.add_row(out, 0, 0);
    }
  }
  for (int n = 0; n < nodes; ++n) {
    std::vector<std::pair<int, double>> pool;
    for (int i = 0; i < count; ++i) {
      if (src[i][n] >= 0) pool.emplace_back(src[i][n], 1.0);
    }
    mip.add_row(pool, -1e30, instance.node_gpus[n]);
  }

  // The warm start as a full assignment: flows follow each GPU's sequence of items.
  std::vector<double> start;
  if (!warm.empty()) {
    start.assign(mip.num_vars(), 0.0);
    start[makespan] = warm.makespan_s;
    std::vector<double> begin(count, 0), finish(count, 0);
    std::vector<int> node_of(count, 0);
    std::vector<std::vector<int>> gpus = assign_gpus(instance, warm);
    for (int j = 0; j < jobs; ++j) {
      const Placement& p = warm.jobs[j];
      begin[j] = p.start_s;
      finish[j] = p.end_s;
      node_of[j] = p.node;
      for (const Option& o : items[j].options) {
        if (o.mode == p.mode && o.node == p.node) start[o.var] = 1;
      }
    }
    for (size_t b = 0; b < instance.blocks.size(); ++b) {
      const int i = jobs + static_cast<int>(b);
      finish[i] = instance.blocks[b].until_s;
      node_of[i] = instance.blocks[b].node;
      gpus.push_back(instance.blocks[b].gpus);
      start[items[i].options[0].var] = 1;
    }
    for (int i = 0; i < count; ++i) start[items[i].start_var] = begin[i];
    for (int i = 0; i < count; ++i) {
      for (int j = 0; j < count; ++j) {
        if (seq[i][j] >= 0 && finish[i] <= begin[j] + 1e-7) start[seq[i][j]] = 1;
      }
    }
    for (int n = 0; n < nodes; ++n) {
      for (int g = 0; g < instance.node_gpus[n]; ++g) {
        std::vector<int> users;
        for (int i = 0; i < count; ++i) {
          if (node_of[i] == n && std::count(gpus[i].begin(), gpus[i].end(), g)) users.push_back(i);
        }
        std::sort(users.begin(), users.end(), [&](int a, int b) { return begin[a] < begin[b]; });
        if (users.empty()) continue;
        start[src[users.front()][n]] += 1;
        start[snk[users.back()][n]] += 1;
        for (size_t k = 1; k < users.size(); ++k) start[flow[{users[k - 1], users[k], n}]] += 1;
      }
    }
  }

  MilpResult result;
  result.variables = mip.num_vars();
  result.rows = mip.num_rows();
  const MipModel::Outcome out = mip.solve(seconds, start, log);
  result.bound = out.bound;
  result.optimal = out.optimal;
  result.stopped_on_time = out.stopped_on_time;
  result.failure = out.failure;
  if (out.has_solution) {
    Schedule raw;
    raw.jobs.resize(jobs);
    bool complete = true;
    for (int j = 0; j < jobs; ++j) {
      const Option* chosen = nullptr;
      for (const Option& o : items[j].options) {
        if (out.values[o.var] > 0.5) chosen = &o;
      }
      if (!chosen) {
        complete = false;
        break;
      }
      const double s = std::max(0.0, out.values[items[j].start_var]);
      raw.jobs[j] = {chosen->mode, chosen->node, s, s + chosen->duration};
    }
    if (complete) result.schedule = left_shift(instance, raw);
  }
  return result;
}

}  // namespace saturn::solver
