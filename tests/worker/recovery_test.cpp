// saturn-worker as a process when things go wrong (issue 23): image models under the CPU memory
// cap; a worker whose orchestrator is gone still checkpoints; checkpoints carry checksums, a
// damaged newest one is set aside and the run resumes from the newest intact one, none intact is
// a data error that touches nothing; retention deletes only its own checkpoints; the checkpoint
// probe never writes through a link planted at a guessable name; ranks listen on loopback only.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "saturn/checksum.h"
#include "train/checkpoint.h"
#include "worker_process.h"

namespace saturn::worker {
namespace {

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_file(const fs::path& p, const std::string& bytes) {
  std::ofstream(p, std::ios::binary | std::ios::trunc) << bytes;
}

// Random bytes over `count` bytes in the middle of a file (the tensor data of a safetensors).
void damage(const fs::path& p, std::size_t count = 64) {
  std::string bytes = read_file(p);
  ASSERT_GT(bytes.size(), 2 * count);
  std::uint64_t x = 0x9E3779B97F4A7C15ULL;
  for (std::size_t i = 0; i < count; ++i) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    bytes[bytes.size() / 2 + i] = static_cast<char>(x);
  }
  write_file(p, bytes);
}

std::vector<std::string> names_in(const fs::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

// Trains the 12-step job of worker_process.h for `steps` steps with a checkpoint every 2.
WorkerRun train(const fs::path& ck, const std::string& technique, int steps,
                const std::string& devices = "cpu") {
  return worker("execute " + job() + " --technique " + technique + " --devices " + devices +
                " --checkpoint-every 2 --checkpoint " + ck.string() +
                (steps > 0 ? " --steps " + std::to_string(steps) : ""));
}

// vit-tiny and resnet-tiny failed every trial and execute on the CPU: the capped CPU allocator
// gave DataPtrs whose context was not their data, which oneDNN's raw_allocate asserts.
TEST(WorkerRecovery, ImageModelsTrainOnTheCpuUnderTheMemoryCap) {
  const fs::path yaml = workdir() / "images.yaml";
  std::ofstream(yaml) << "jobs:\n"
                         "  - name: vit\n    model: vit-tiny\n"
                         "    data: {format: synthetic-images, image_size: 32, samples: 64}\n"
                         "    lr: 1e-3\n    batch_size: 8\n    steps: 3\n    gpus: 1\n"
                         "    techniques: single\n"
                         "  - name: resnet\n    model: resnet-tiny\n"
                         "    data: {format: synthetic-images, image_size: 32, samples: 64}\n"
                         "    lr: 1e-3\n    batch_size: 8\n    steps: 3\n    gpus: 1\n"
                         "    techniques: single\n";
  for (const std::string name : {"vit", "resnet"}) {
    const WorkerRun run = worker("execute --job " + yaml.string() + " --name " + name +
                                 " --technique single --devices cpu");
    EXPECT_EQ(run.code, 0) << name << ": " << (run.last("error") ? run.last("error")->dump() : "");
    ASSERT_NE(run.last("done"), nullptr) << name;
    EXPECT_EQ((*run.last("done"))["step"], 3) << name;
  }
  const WorkerRun search = worker("search --job " + yaml.string() +
                                  " --name resnet --technique single --devices cpu "
                                  "--measure-steps 1 --device-memory-bytes 2e9");
  EXPECT_EQ(search.code, 0);
  ASSERT_NE(search.last("search_result"), nullptr);
  EXPECT_TRUE((*search.last("search_result"))["feasible"].get<bool>());
}

// batch_size 1e9 held 10 GB and hung its trial until the trial timed out: the positions and
// token ids of a micro-batch were assembled outside the CPU cap. Each setting is now checked
// against what is left before its first step.
TEST(WorkerRecovery, AnAbsurdBatchIsOutOfMemoryAtOnce) {
  const fs::path yaml = workdir() / "absurd.yaml";
  std::ofstream(yaml) << "jobs:\n  - name: absurd\n    model: gpt2-tiny\n"
                         "    data: {format: synthetic-text, seq_len: 32, samples: 64}\n"
                         "    lr: 1e-3\n    batch_size: 1000000000\n    steps: 2\n    gpus: 1\n"
                         "    techniques: single\n";
  const auto t0 = std::chrono::steady_clock::now();
  const WorkerRun search = worker("search --job " + yaml.string() +
                                  " --technique single --devices cpu --host-memory-bytes 1e9");
  const WorkerRun execute = worker("execute --job " + yaml.string() +
                                   " --technique single --devices cpu --host-memory-bytes 1e9");
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_LT(took, 60);
  EXPECT_EQ(search.code, 0);
  const json* r = search.last("search_result");
  ASSERT_NE(r, nullptr);
  EXPECT_FALSE((*r)["feasible"].get<bool>());
  ASSERT_EQ((*r)["tried"].size(), 10u);  // accumulation 1 to 512
  for (const json& tried : (*r)["tried"]) {
    EXPECT_NE(tried.value("reason", "").find("for its data and first activation alone"),
              std::string::npos)
        << tried.dump();
  }
  EXPECT_EQ(execute.code, protocol::kExitOutOfMemory);
  ASSERT_NE(execute.last("error"), nullptr);
  EXPECT_EQ((*execute.last("error"))["kind"], "oom");
  // Synthetic text is made whole in host memory: 1e9 samples are a data error before any is.
  std::ofstream(yaml) << "jobs:\n  - name: absurd\n    model: gpt2-tiny\n"
                         "    data: {format: synthetic-text, seq_len: 32, samples: 1000000000}\n"
                         "    lr: 1e-3\n    batch_size: 8\n    steps: 2\n    gpus: 1\n"
                         "    techniques: single\n";
  const WorkerRun data = worker("execute --job " + yaml.string() +
                                " --technique single --devices cpu --host-memory-bytes 1e9");
  EXPECT_EQ(data.code, protocol::kExitData);
  ASSERT_NE(data.last("error"), nullptr);
  EXPECT_NE((*data.last("error"))["message"].get<std::string>().find(
                "data.samples: the job's token ids need 134 GB; the CPU rank's memory cap is"),
            std::string::npos)
      << data.last("error")->dump();
}

// `saturn run` killed with SIGKILL: its workers get SIGTERM (the parent-death signal) while the
// event pipe has no reader. A worker must still checkpoint and exit `stopped`, not die of
// SIGPIPE writing its next event (2026-12-07: a 3000-step job left an empty checkpoint
// directory). The launcher of ddp's ranks relays events into the same closed pipe.
TEST(WorkerRecovery, AWorkerWhoseReaderIsGoneCheckpointsOnSigterm) {
  for (const std::string technique : {"single", "ddp"}) {
    const fs::path ck = workdir() / ("orphan-" + technique);
    fs::remove_all(ck);
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    const pid_t pid = spawn_worker(
        {"execute", "--job", (workdir() / "long.yaml").string(), "--technique", technique,
         "--devices", technique == "ddp" ? "cpu:0,cpu:1" : "cpu", "--checkpoint", ck.string()},
        fds[1], fds[0]);
    close(fds[1]);
    FILE* out = fdopen(fds[0], "r");
    char buffer[1 << 16];
    int steps = 0;
    while (steps < 2 && fgets(buffer, sizeof buffer, out)) {
      steps += std::string(buffer).find("\"event\":\"step\"") != std::string::npos;
    }
    fclose(out);  // the orchestrator is gone
    std::this_thread::sleep_for(
        std::chrono::milliseconds(300));  // a step or two into a closed pipe
    kill(pid, SIGTERM);
    int status = 0;
    waitpid(pid, &status, 0);
    EXPECT_TRUE(WIFEXITED(status))
        << technique << ": killed by signal " << (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    if (WIFEXITED(status)) EXPECT_EQ(WEXITSTATUS(status), protocol::kExitStopped) << technique;
    EXPECT_TRUE(fs::exists(ck / "LATEST")) << technique;
  }
}

TEST(WorkerRecovery, CheckpointsCarryTheChecksumsOfTheirFiles) {
  const fs::path ck = workdir() / "checksums";
  fs::remove_all(ck);
  ASSERT_EQ(train(ck, "single", 2).code, 0);
  const fs::path at = ck / "step-00000002";
  auto listed = parse_checksums(read_file(at / "checksums.xxh128"), "checksums.xxh128");
  ASSERT_TRUE(listed.ok()) << listed.error().to_string();
  ASSERT_EQ(listed->size(), 3u);
  for (const auto& [file, digest] : *listed) {
    auto actual = file_xxh128((at / file).string());
    ASSERT_TRUE(actual.ok());
    EXPECT_EQ(*actual, digest) << file;
  }
  // xxHash's own tool agrees, where it is installed.
  if (std::system("command -v xxh128sum >/dev/null 2>&1") == 0) {
    EXPECT_EQ(
        std::system(("cd " + at.string() + " && xxh128sum -c --quiet checksums.xxh128").c_str()),
        0);
  }
}

// The newest checkpoint holds plausible but wrong weights (an older checkpoint's file): its
// checksum says so, it is set aside, and the run goes on from the newest intact one, saying so.
void expect_fallback(const std::string& technique, const std::string& devices, bool random_bytes) {
  const fs::path ck = workdir() / ("fallback-" + technique);
  fs::remove_all(ck);
  ASSERT_EQ(train(ck, technique, 6, devices).code, 0);
  ASSERT_TRUE(fs::exists(ck / "step-00000004"));
  ASSERT_TRUE(fs::exists(ck / "step-00000006"));
  if (random_bytes) {
    damage(ck / "step-00000006" / "model.safetensors");
  } else {
    fs::copy_file(ck / "step-00000004" / "model.safetensors",
                  ck / "step-00000006" / "model.safetensors", fs::copy_options::overwrite_existing);
  }
  const WorkerRun run = train(ck, technique, 0, devices);
  EXPECT_EQ(run.code, 0) << (run.last("error") ? run.last("error")->dump() : "");
  const json* rejected = run.last("checkpoint_rejected");
  ASSERT_NE(rejected, nullptr);
  EXPECT_NE((*rejected)["path"].get<std::string>().find("step-00000006"), std::string::npos);
  EXPECT_NE((*rejected)["reason"].get<std::string>().find("damaged"), std::string::npos)
      << rejected->dump();
  const json* started = run.last("started");
  ASSERT_NE(started, nullptr);
  EXPECT_EQ((*started)["step"], 4);
  EXPECT_EQ((*started)["checkpoint"]["step"], 4);
  EXPECT_TRUE((*started)["checkpoint"]["verified"].get<bool>());
  ASSERT_NE(run.last("done"), nullptr);
  EXPECT_EQ((*run.last("done"))["step"], 12);
  // Set aside, not deleted; retention then kept the newest two it wrote.
  bool set_aside = false;
  for (const std::string& n : names_in(ck)) set_aside |= n.rfind("step-00000006.rejected-", 0) == 0;
  EXPECT_TRUE(set_aside);
  EXPECT_TRUE(fs::exists(ck / "step-00000012"));
}

TEST(WorkerRecovery, PlausibleButWrongWeightsAreSetAsideAndTheRunResumesFromAnOlderCheckpoint) {
  expect_fallback("single", "cpu", /*random_bytes=*/false);
}

// FSDP's ranks read their own parts: rank 0 chooses and verifies, rank 1 opens what it chose.
TEST(WorkerRecovery, FsdpRanksResumeTogetherFromTheNewestIntactCheckpoint) {
  expect_fallback("fsdp", "cpu:0,cpu:1", /*random_bytes=*/true);
}

// Nothing to fall back to: a data error (exit 3) naming every checkpoint and why, which the
// orchestrator does not retry; the checkpoints are left as they are for the user to decide.
TEST(WorkerRecovery, NoIntactCheckpointIsADataErrorThatTouchesNothing) {
  const fs::path ck = workdir() / "none-intact";
  fs::remove_all(ck);
  ASSERT_EQ(train(ck, "single", 4).code, 0);
  damage(ck / "step-00000004" / "optimizer.safetensors");
  damage(ck / "step-00000002" / "model.safetensors");
  const std::vector<std::string> before = names_in(ck);
  const WorkerRun run = train(ck, "single", 0);
  EXPECT_EQ(run.code, protocol::kExitData);
  const json* e = run.last("error");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ((*e)["kind"], "data");
  const std::string message = (*e)["message"];
  EXPECT_NE(message.find("no intact checkpoint"), std::string::npos) << message;
  EXPECT_NE(message.find("step-00000004"), std::string::npos) << message;
  EXPECT_NE(message.find("step-00000002"), std::string::npos) << message;
  EXPECT_EQ(names_in(ck), before);
  EXPECT_EQ(run.last("started"), nullptr);
}

// Retention keeps the two newest of its own checkpoints and touches nothing else in the
// directory (a job named "." once had checkpoints/ itself as its directory), not even through a
// link named like one of its partial writes.
TEST(WorkerRecovery, RetentionDeletesOnlyItsOwnCheckpoints) {
  const fs::path ck = workdir() / "retention";
  const fs::path elsewhere = workdir() / "retention-elsewhere";
  fs::remove_all(ck);
  fs::remove_all(elsewhere);
  fs::create_directories(ck / "other-job" / "step-00000010");
  fs::create_directories(ck / "step-00000001.bak");
  fs::create_directories(ck / "step-x");
  fs::create_directories(elsewhere);
  write_file(elsewhere / "keep.txt", "keep");
  fs::create_directory_symlink(elsewhere, ck / "step-00000001.tmp.99999");
  ASSERT_EQ(train(ck, "single", 6).code, 0);
  EXPECT_EQ(names_in(ck), (std::vector<std::string>{"LATEST", "other-job", "step-00000001.bak",
                                                    "step-00000001.tmp.99999", "step-00000004",
                                                    "step-00000006", "step-x"}));
  EXPECT_TRUE(fs::exists(ck / "other-job" / "step-00000010"));
  EXPECT_TRUE(fs::exists(elsewhere / "keep.txt"));
}

TEST(WorkerRecovery, CheckpointNamesAreTheWritersOnly) {
  EXPECT_EQ(parse_checkpoint_name("step-00000120").kind, CheckpointName::kComplete);
  EXPECT_EQ(parse_checkpoint_name("step-00000120").step, 120);
  EXPECT_EQ(parse_checkpoint_name("step-123456789").step, 123456789);
  EXPECT_EQ(parse_checkpoint_name("step-00000120.tmp.4711").kind, CheckpointName::kPartial);
  for (const char* other :
       {"LATEST", "step-", "step-120", "step-00000120.rejected-1765100000", "step-00000120.tmp.",
        "step-00000120.tmp.x", "step-0000012a", ".", "..", "step-1234567890123456789"}) {
    EXPECT_EQ(parse_checkpoint_name(other).kind, CheckpointName::kOther) << other;
  }
}

// The probe's checkpoint went to TMPDIR/saturn-checkpoint-probe-<pid>-<port>: another local user
// who planted a link there made the trial write into, and delete from, the link's target. The
// worker's pid is known once it is forked, so a link is planted at that name before it runs.
TEST(WorkerRecovery, CheckpointProbeNeverWritesThroughAPlantedLink) {
  const fs::path tmp = workdir() / "probe-planted";
  const fs::path victim = workdir() / "probe-victim";
  fs::remove_all(tmp);
  fs::remove_all(victim);
  fs::create_directories(tmp);
  fs::create_directories(victim / "step-00000000");
  write_file(victim / "keep.txt", "keep");
  const std::string job_path = (workdir() / "job.yaml").string();
  int go[2];
  ASSERT_EQ(pipe(go), 0);
  const pid_t pid = fork();
  if (pid == 0) {
    close(go[1]);
    char c;
    (void)!read(go[0], &c, 1);  // until the link is in place
    const int null = open("/dev/null", O_WRONLY);
    dup2(null, 1);
    dup2(null, 2);
    setenv("TMPDIR", tmp.c_str(), 1);
    unsetenv("MASTER_PORT");
    execl(SATURN_WORKER_PATH, SATURN_WORKER_PATH, "search", "--job", job_path.c_str(),
          "--technique", "single", "--devices", "cpu", "--measure-steps", "1", nullptr);
    _exit(127);
  }
  close(go[0]);
  fs::create_directory_symlink(victim,
                               tmp / ("saturn-checkpoint-probe-" + std::to_string(pid) + "-29500"));
  ASSERT_EQ(write(go[1], "x", 1), 1);
  close(go[1]);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_EQ(names_in(victim), (std::vector<std::string>{"keep.txt", "step-00000000"}));
  // The probe's own directory is gone; the planted link is left alone.
  EXPECT_EQ(names_in(tmp).size(), 1u);
}

TEST(WorkerRecovery, PrivateDirectoriesAreNewAndOnlyTheUsers) {
  const fs::path parent = workdir() / "private";
  fs::remove_all(parent);
  fs::create_directories(parent);
  auto a = make_private_directory(parent.string(), "p-");
  auto b = make_private_directory(parent.string(), "p-");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(*a, *b);
  struct stat st {};
  ASSERT_EQ(lstat(a->c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  EXPECT_FALSE(make_private_directory((parent / "missing").string(), "p-").ok());
}

// Listening TCP sockets (local address as /proc/net/tcp* writes it) of the processes `pids`.
std::vector<std::string> listening_addresses(const std::set<pid_t>& pids) {
  std::set<std::string> inodes;
  for (pid_t p : pids) {
    std::error_code ec;
    for (const auto& fd :
         fs::directory_iterator(fs::path("/proc") / std::to_string(p) / "fd", ec)) {
      const std::string target = fs::read_symlink(fd.path(), ec).string();
      if (target.rfind("socket:[", 0) == 0) inodes.insert(target.substr(8, target.size() - 9));
    }
  }
  std::vector<std::string> out;
  for (const char* table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    std::ifstream in(table);
    std::string line;
    std::getline(in, line);  // header
    while (std::getline(in, line)) {
      std::istringstream fields(line);
      std::string slot, local, remote, state, queues, timer, retransmits, uid, timeout, inode;
      fields >> slot >> local >> remote >> state >> queues >> timer >> retransmits >> uid >>
          timeout >> inode;
      if (state == "0A" && inodes.count(inode)) out.push_back(local);
    }
  }
  return out;
}

std::set<pid_t> children_of(pid_t parent) {
  std::set<pid_t> out;
  for (const auto& e : fs::directory_iterator("/proc")) {
    const std::string name = e.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream stat(e.path() / "stat");
    std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
    const std::size_t close = text.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(text.substr(close + 2));
    std::string state;
    pid_t ppid = 0;
    rest >> state >> ppid;
    if (ppid == parent) out.insert(static_cast<pid_t>(std::stoi(name)));
  }
  return out;
}

TEST(WorkerRecovery, ListeningSocketsAreSeen) {  // what the next test relies on
  const int fd = socket(AF_INET6, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in6 any{};
  any.sin6_family = AF_INET6;
  any.sin6_addr = in6addr_any;
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&any), sizeof any), 0);
  ASSERT_EQ(listen(fd, 1), 0);
  const std::vector<std::string> seen = listening_addresses({getpid()});
  close(fd);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].substr(0, seen[0].find(':')), "00000000000000000000000000000000");
}

// CPU ddp's ranks met at a c10d TCP store bound to every interface (`::`), unauthenticated.
// They now meet through a file store in a private directory, and Gloo's connections are on
// loopback.
TEST(WorkerRecovery, RanksOnOneMachineListenOnLoopbackOnly) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  const pid_t pid = spawn_worker({"execute", "--job", (workdir() / "long.yaml").string(),
                                  "--technique", "ddp", "--devices", "cpu:0,cpu:1"},
                                 fds[1], fds[0]);
  close(fds[1]);
  FILE* out = fdopen(fds[0], "r");
  char buffer[1 << 16];
  bool stepping = false;
  while (!stepping && fgets(buffer, sizeof buffer, out)) {
    stepping = std::string(buffer).find("\"event\":\"step\"") != std::string::npos;
  }
  std::set<pid_t> tree = children_of(pid);
  tree.insert(pid);
  const std::vector<std::string> listening = listening_addresses(tree);
  kill(pid, SIGTERM);
  while (fgets(buffer, sizeof buffer, out)) {
  }
  fclose(out);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(stepping);
  EXPECT_EQ(tree.size(), 3u);  // the launcher and its two ranks
  for (const std::string& address : listening) {
    const std::string host = address.substr(0, address.find(':'));
    const bool loopback = host == "0100007F" || host == "00000000000000000000000001000000" ||
                          host == "0000000000000000FFFF00000100007F";
    EXPECT_TRUE(loopback) << "a rank listens on " << address;
  }
}

}  // namespace
}  // namespace saturn::worker
