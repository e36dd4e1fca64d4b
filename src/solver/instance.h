// The solver's view of a planning problem: jobs with their candidate modes, node capacities and
// GPUs that are already taken. Built from a profile table (and, when re-planning, from the
// running tasks); every solver works on an Instance and returns a Schedule.
//
// Time is in seconds from the instance's origin (0 = "now" when re-planning).
#pragma once

#include <initializer_list>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "saturn/planner.h"
#include "saturn/profile.h"

namespace saturn::solver {

// The nodes a mode fits on: node indices, ascending. Immutable and shared, so that the modes
// that fit the same nodes hold one list (NodeFits gives every mode of a cluster of one node kind
// the same one): 50,000 jobs on 512 nodes once held 400 MB of copies. Thread-safe to read.
class NodeSet {
 public:
  NodeSet() : nodes_(std::make_shared<const std::vector<int>>()) {}
  NodeSet(std::vector<int> nodes)  // NOLINT: implicit, as the list it is
      : nodes_(std::make_shared<const std::vector<int>>(std::move(nodes))) {}
  NodeSet(std::initializer_list<int> nodes) : NodeSet(std::vector<int>(nodes)) {}

  std::vector<int>::const_iterator begin() const { return nodes_->begin(); }
  std::vector<int>::const_iterator end() const { return nodes_->end(); }
  std::size_t size() const { return nodes_->size(); }
  bool empty() const { return nodes_->empty(); }
  int operator[](std::size_t i) const { return (*nodes_)[i]; }
  bool contains(int node) const;
  // The same list object (interned sets compare in O(1) this way), and its identity.
  bool same(const NodeSet& other) const { return nodes_ == other.nodes_; }
  const void* id() const { return nodes_.get(); }
  bool operator==(const NodeSet& other) const { return same(other) || *nodes_ == *other.nodes_; }

 private:
  std::shared_ptr<const std::vector<int>> nodes_;
};

// The nodes each configuration of a cluster fits on (config_fits), decided once per kind of
// node (GPU count, type and memory) and interned: one NodeSet per distinct answer.
class NodeFits {
 public:
  explicit NodeFits(const Cluster& cluster);
  NodeSet of(const Config& config);  // empty when it fits no node

 private:
  std::vector<Node> kinds_;                        // one node of each kind
  std::vector<std::vector<int>> members_;          // the nodes of each kind, ascending
  std::map<std::vector<bool>, NodeSet> interned_;  // kinds that fit -> their nodes
};

// One way to run a job: a profile configuration, or (re-planning) staying where it runs now.
struct Mode {
  int config = -1;             // index into the task's configs
  int gpus = 0;                // GPUs it holds, on one node
  double duration_s = 0;       // seconds from its start to its end
  NodeSet nodes;               // the nodes it fits on, ascending, non-empty
  bool keep = false;           // re-planning: the running task stays put, starting at 0
  std::vector<int> keep_gpus;  // with keep: the GPU indices it holds on nodes[0]

  double area() const { return gpus * duration_s; }
};

struct Job {
  std::string name;
  int task = -1;            // index into the profile table's tasks
  std::vector<Mode> modes;  // non-empty
  bool running = false;     // re-planning: running now (has a keep mode unless forced off)
};

// GPUs taken from time 0 until `until_s` (a reservation).
struct Block {
  int node = 0;
  std::vector<int> gpus;
  double until_s = 0;
};

struct Instance {
  std::vector<int> node_gpus;  // capacity of each node, GPUs
  std::vector<Job> jobs;
  std::vector<Block> blocks;

  int total_gpus() const;
  int num_nodes() const { return static_cast<int>(node_gpus.size()); }
};

// Every task of `table`, every configuration that fits at least one node and is not dominated.
Instance make_instance(const ProfileTable& table);

// Removes the modes another mode of the job can replace in any schedule (no more GPUs, no
// longer, fits on at least the same nodes; of equal modes the first stays). Keep modes stay, in
// place. Optimal makespan and completion times are unchanged; the search space shrinks (a
// profile usually has one useful technique per GPU count).
void drop_dominated_modes(Job& job);

}  // namespace saturn::solver
