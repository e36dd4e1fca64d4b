// saturn-worker as a process: the event stream of execute and search, two CPU ranks through the
// launcher, stopping on SIGTERM with a checkpoint and resuming (search and measure: promptly),
// a fatal signal and bad input as `error` events with their kind and exit code.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include <torch/cuda.h>
#include <nlohmann/json.hpp>

#include "worker_process.h"

namespace saturn::worker {
namespace {

TEST(WorkerCli, ExecuteEmitsStartedStepsEvalCheckpointDone) {
  const fs::path ck = workdir() / "ck-single";
  fs::remove_all(ck);
  const WorkerRun run =
      worker("execute " + job() + " --technique single --devices cpu --log-every 4 --checkpoint " +
             ck.string());
  EXPECT_EQ(run.code, 0);
  EXPECT_TRUE(run.other.empty()) << run.other.front();
  ASSERT_GE(run.events.size(), 5u);
  EXPECT_EQ(run.events.front()["event"], "started");
  EXPECT_EQ(run.events.front()["total_steps"], 12);
  ASSERT_NE(run.last("step"), nullptr);
  EXPECT_EQ((*run.last("step"))["step"], 12);
  EXPECT_GT((*run.last("step"))["tokens_per_s"].get<double>(), 0);
  ASSERT_NE(run.last("eval"), nullptr);
  ASSERT_NE(run.last("checkpoint"), nullptr);
  EXPECT_TRUE(fs::exists(ck / "step-00000012" / "model.safetensors"));
  const json* done = run.last("done");
  ASSERT_NE(done, nullptr);
  EXPECT_EQ(run.events.back()["event"], "done");
  EXPECT_LT((*done)["loss"].get<double>(), std::log(256.0));
}

TEST(WorkerCli, DdpOnTwoCpuRanksThroughTheLauncher) {
  const WorkerRun run =
      worker("execute " + job() + " --technique ddp --devices cpu:0,cpu:1 --log-every 6 --steps 6");
  EXPECT_EQ(run.code, 0);
  ASSERT_NE(run.last("started"), nullptr);
  EXPECT_EQ((*run.last("started"))["world_size"], 2);
  EXPECT_EQ((*run.last("started"))["micro_batch"], 4);
  ASSERT_NE(run.last("done"), nullptr);
  EXPECT_EQ((*run.last("done"))["step"], 6);
  int started = 0;
  for (const json& e : run.events) started += e["event"] == "started";
  EXPECT_EQ(started, 1);  // rank 0 speaks for the job
}

TEST(WorkerCli, FsdpOnTwoCpuRanksAndOffloadOnOneCheckpointForEachOther) {
  const fs::path ck = fs::path(::testing::TempDir()) / "saturn_worker_cli_fsdp";
  fs::remove_all(ck);
  WorkerRun run = worker("execute " + job() +
                         " --technique fsdp --devices cpu:0,cpu:1 --log-every 3 --steps 3"
                         " --checkpoint " +
                         ck.string());
  EXPECT_EQ(run.code, 0);
  ASSERT_NE(run.last("started"), nullptr);
  EXPECT_EQ((*run.last("started"))["technique"], "fsdp");
  EXPECT_EQ((*run.last("started"))["world_size"], 2);
  ASSERT_NE(run.last("done"), nullptr);
  EXPECT_EQ((*run.last("done"))["step"], 3);
  // The executor may move a job to another technique: offload resumes fsdp's checkpoint.
  run = worker("execute " + job() + " --technique offload --devices cpu --log-every 3 --steps 3" +
               " --checkpoint " + ck.string());
  EXPECT_EQ(run.code, 0);
  ASSERT_NE(run.last("started"), nullptr);
  EXPECT_EQ((*run.last("started"))["resumed"], true);
  ASSERT_NE(run.last("done"), nullptr);
  EXPECT_EQ((*run.last("done"))["step"], 6);
}

TEST(WorkerCli, SearchMeasuresAndOutOfMemoryIsAResult) {
  // The checkpoint probe writes under TMPDIR and removes what it wrote.
  const fs::path tmp = workdir() / "probe-tmp";
  fs::remove_all(tmp);
  fs::create_directories(tmp);
  const WorkerRun ok =
      worker("search " + job() + " --technique single --devices cpu --measure-steps 2",
             "TMPDIR=" + tmp.string());
  EXPECT_TRUE(fs::is_empty(tmp));
  EXPECT_EQ(ok.code, 0);
  const json* r = ok.last("search_result");
  ASSERT_NE(r, nullptr);
  EXPECT_TRUE((*r)["feasible"].get<bool>());
  EXPECT_GT((*r)["step_s"].get<double>(), 0);
  EXPECT_GT((*r)["peak_memory_bytes"].get<double>(), 0);
  EXPECT_EQ((*r)["params"]["grad_accum"], 1);
  EXPECT_EQ((*r)["total_steps"], 12);
  // Start-up (process start to full speed) is measured: more than nothing, less than forever.
  EXPECT_GT((*r)["startup_s"].get<double>(), 0);
  EXPECT_LT((*r)["startup_s"].get<double>(), 60);
  // One evaluation and one checkpoint, timed.
  EXPECT_GT((*r)["eval_s"].get<double>(), 0);
  EXPECT_GT((*r)["checkpoint_s"].get<double>(), 0);
  // With almost no memory every setting fails to allocate: infeasible, not a crash.
  const WorkerRun oom =
      worker("search " + job() + " --technique single --devices cpu --device-memory-bytes 1000000");
  EXPECT_EQ(oom.code, 0);
  const json* o = oom.last("search_result");
  ASSERT_NE(o, nullptr);
  EXPECT_FALSE((*o)["feasible"].get<bool>());
  EXPECT_GE((*o)["tried"].size(), 1u);
}

// A CPU rank's tensors are capped at the host memory left to the worker (here at most what
// --host-memory-bytes leaves, under 1 GB): a batch too large for it is an `oom` error with its
// exit code within the first step, not a process the kernel's OOM killer ends after it has
// filled the machine (2026-12-04: batch 100,000 of this job on 24 GiB, killed after 2.5 min).
TEST(WorkerCli, CpuBatchTooLargeForTheHostIsOutOfMemory) {
  const fs::path huge = workdir() / "huge.yaml";
  std::ofstream(huge) << "jobs:\n  - name: huge\n    model: gpt2-tiny\n"
                         "    data: {format: text, path: text.txt, seq_len: 32}\n"
                         "    lr: 3e-3\n    batch_size: 16384\n    steps: 2\n    gpus: 1\n"
                         "    techniques: single\n";
  const WorkerRun run = worker("execute --job " + huge.string() +
                               " --technique single --devices cpu --host-memory-bytes 1e9");
  EXPECT_EQ(run.code, protocol::exit_code_for(protocol::kErrorOom));
  const json* e = run.last("error");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ((*e)["kind"], "oom");
  const std::string message = (*e)["message"];
  EXPECT_NE(message.find("what --host-memory-bytes leaves this worker"), std::string::npos)
      << message;
}

// A model whose fp32 parameters alone exceed the CPU rank's memory (GPT-J 6B's 24 GB under a 1 GB
// cap) is an `oom` error before it is built, in well under a second, not a process the kernel
// kills while it fills the host.
TEST(WorkerCli, AModelLargerThanTheCpuRankIsOutOfMemoryBeforeItIsBuilt) {
  const fs::path big = workdir() / "gptj.yaml";
  std::ofstream(big) << "jobs:\n  - name: gptj\n    model: gptj-6b\n"
                        "    data: {format: synthetic-text, seq_len: 32, samples: 64}\n"
                        "    lr: 3e-3\n    batch_size: 8\n    steps: 2\n    gpus: 1\n"
                        "    techniques: single\n";
  const WorkerRun run = worker("execute --job " + big.string() +
                               " --technique single --devices cpu --device-memory-bytes 1e9");
  EXPECT_EQ(run.code, protocol::exit_code_for(protocol::kErrorOom));
  const json* e = run.last("error");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ((*e)["kind"], "oom");
  EXPECT_NE((*e)["message"].get<std::string>().find("fp32 parameters need"), std::string::npos)
      << e->dump();
}

// Offloading under a memory option (`limit`) too small for it: `search` finds no setting and
// lists what it tried, each out of memory with the reason the check before the model's build
// gave (the tried settings whose reason holds `reason`: the first, or with `every` all);
// `measure` and `execute` of `params` are an `oom` error, with its exit code, whose message
// holds `message`.
void expect_offload_ruled_out(const std::string& limit, const std::string& reason, bool every,
                              const std::string& params, const std::string& message) {
  const WorkerRun search = worker("search " + job() +
                                  " --technique offload --devices cpu --no-probes "
                                  "--measure-steps 1 --warmup-steps 0 " +
                                  limit);
  EXPECT_EQ(search.code, 0);
  const json* r = search.last("search_result");
  ASSERT_NE(r, nullptr);
  EXPECT_FALSE((*r)["feasible"].get<bool>());
  ASSERT_GE((*r)["tried"].size(), 2u);
  for (const json& tried : (*r)["tried"]) {
    EXPECT_NE(tried.value("reason", "").find(reason), std::string::npos) << tried.dump();
    if (!every) break;
  }
  for (const std::string command : {"measure --no-probes", "execute --steps 1"}) {
    const WorkerRun run = worker(command + " " + job() + " --technique offload --devices cpu " +
                                 limit + " --params '" + params + "'");
    EXPECT_EQ(run.code, protocol::exit_code_for(protocol::kErrorOom)) << command;
    const json* e = run.last("error");
    ASSERT_NE(e, nullptr) << command;
    EXPECT_EQ((*e)["kind"], "oom") << command;
    EXPECT_NE((*e)["message"].get<std::string>().find(message), std::string::npos) << e->dump();
  }
}

// On a GPU, in a fresh process whose first CUDA call is the peak-memory reset (2026-12-04:
// "Invalid device argument" from the caching allocator, not started yet), with the evaluation
// and checkpoint probes that once crashed there.
TEST(WorkerCli, MeasureAndSearchOnCuda) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  const WorkerRun m = worker("measure " + job() +
                             " --technique single --devices cuda:0 --measure-steps 2"
                             " --params '{\"grad_accum\": 1}'");
  EXPECT_EQ(m.code, 0);
  const json* e = m.last("measurement");
  ASSERT_NE(e, nullptr) << (m.last("error") ? m.last("error")->dump() : "no error event");
  EXPECT_GT((*e)["peak_memory_bytes"].get<double>(), 0);
  EXPECT_GT((*e)["checkpoint_s"].get<double>(), 0);
  const WorkerRun s =
      worker("search " + job() + " --technique single --devices cuda:0 --measure-steps 2");
  EXPECT_EQ(s.code, 0);
  const json* r = s.last("search_result");
  ASSERT_NE(r, nullptr) << (s.last("error") ? s.last("error")->dump() : "no error event");
  EXPECT_TRUE((*r)["feasible"].get<bool>());
}

// Blocks kept on a device too small for them: search rules each count out before building the
// model and moves on (the first setting it tries keeps the most blocks; only a count above 0
// can fail the kept blocks' check).
TEST(WorkerCli, OffloadRulesOutKeptBlocksThatCannotFit) {
  expect_offload_ruled_out("--device-memory-bytes 100000", "the kept blocks need about",
                           /*every=*/false, R"({"grad_accum": 1, "device_blocks": 2})",
                           "device_blocks 2");
}

// A host too small for the model (--host-memory-bytes): every setting is ruled out, with the
// host's figures as the reason.
TEST(WorkerCli, OffloadRulesOutSettingsTheHostCannotHold) {
  expect_offload_ruled_out("--host-memory-bytes 1000000", "host memory for the", /*every=*/true,
                           R"({"grad_accum": 1})", "host memory for the");
}

// Runs saturn-worker with `args` (no shell) and sends it `sig` once it has reported step
// `at_step`; `status` gets its wait status.
WorkerRun worker_signalled(const std::vector<std::string>& args, int sig, int at_step,
                           int* status) {
  int fds[2];
  if (pipe(fds) != 0) return {};
  const pid_t pid = spawn_worker(args, fds[1], fds[0]);
  close(fds[1]);
  WorkerRun run;
  FILE* out = fdopen(fds[0], "r");
  char buffer[1 << 16];
  bool signalled = false;
  while (fgets(buffer, sizeof buffer, out)) {
    std::string line(buffer);
    line.pop_back();
    collect(run, line);
    if (!signalled && run.last("step") && (*run.last("step"))["step"] >= at_step) {
      kill(pid, sig);
      signalled = true;
    }
  }
  fclose(out);
  waitpid(pid, status, 0);
  run.code = WIFEXITED(*status) ? WEXITSTATUS(*status) : -1;
  return run;
}

TEST(WorkerCli, SigtermCheckpointsStopsAndTheNextRunResumes) {
  const fs::path ck = workdir() / "ck-stop";
  fs::remove_all(ck);
  int status = 0;
  const WorkerRun run =
      worker_signalled({"execute", "--job", (workdir() / "job.yaml").string(), "--technique", "ddp",
                        "--devices", "cpu:0,cpu:1", "--checkpoint", ck.string()},
                       SIGTERM, 2, &status);
  EXPECT_EQ(run.code, protocol::kExitStopped);
  ASSERT_NE(run.last("stopped"), nullptr);
  const int stopped_at = (*run.last("stopped"))["step"];
  EXPECT_LT(stopped_at, 12);
  ASSERT_NE(run.last("checkpoint"), nullptr);
  const WorkerRun again = worker(
      "execute " + job() + " --technique ddp --devices cpu:0,cpu:1 --checkpoint " + ck.string());
  EXPECT_EQ(again.code, 0);
  ASSERT_NE(again.last("started"), nullptr);
  EXPECT_TRUE((*again.last("started"))["resumed"].get<bool>());
  EXPECT_EQ((*again.last("started"))["step"], stopped_at);
  EXPECT_EQ((*again.last("done"))["step"], 12);
}

// Starts the worker, sends `sig` `after_s` seconds later, and returns its wait status and how
// long it took to end after the signal (seconds). A worker still running 20 s after the signal
// is killed (SIGKILL), so a regression fails the test instead of hanging it.
int signalled_after(const std::vector<std::string>& args, int sig, double after_s, double* exit_s) {
  const pid_t pid = spawn_worker(args, /*stdout_fd=*/-1, /*close_fd=*/-1);
  usleep(static_cast<useconds_t>(after_s * 1e6));
  kill(pid, sig);
  const auto t0 = std::chrono::steady_clock::now();
  const auto elapsed = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  };
  int status = 0;
  while (waitpid(pid, &status, WNOHANG) == 0) {
    if (elapsed() > 20) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      break;
    }
    usleep(50000);
  }
  *exit_s = elapsed();
  return status;
}

TEST(WorkerCli, SearchAndMeasureStopPromptlyOnSigterm) {
  // Measurements far longer than the test: search stops between steps with the "stopped" exit
  // code; measure (nothing to save) dies of the signal at once.
  const std::vector<std::string> common = {"--job",           (workdir() / "long.yaml").string(),
                                           "--technique",     "single",
                                           "--devices",       "cpu",
                                           "--warmup-steps",  "1",
                                           "--measure-steps", "1000000"};
  std::vector<std::string> search = {"search"},
                           measure = {"measure", "--params", "{\"grad_accum\": 1}", "--no-probes"};
  search.insert(search.end(), common.begin(), common.end());
  measure.insert(measure.end(), common.begin(), common.end());
  double exit_s = 0;
  int status = signalled_after(search, SIGTERM, 3.0, &exit_s);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), protocol::kExitStopped);
  EXPECT_LT(exit_s, 10.0);
  status = signalled_after(measure, SIGTERM, 3.0, &exit_s);
  ASSERT_TRUE(WIFSIGNALED(status));
  EXPECT_EQ(WTERMSIG(status), SIGTERM);
  EXPECT_LT(exit_s, 10.0);
}

// A worker that dies of a fatal signal says so: an `error` event naming the signal and what it
// was doing, then death by that signal (not a silent exit, not a hang).
TEST(WorkerCli, FatalSignalIsAnErrorEventNamingItAndThePhase) {
  int status = 0;
  const WorkerRun run = worker_signalled({"execute", "--job", (workdir() / "long.yaml").string(),
                                          "--technique", "single", "--devices", "cpu"},
                                         SIGSEGV, 1, &status);
  EXPECT_TRUE(WIFSIGNALED(status));
  EXPECT_EQ(WTERMSIG(status), SIGSEGV);
  EXPECT_TRUE(run.other.empty()) << run.other.front();
  const json* e = run.last("error");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ((*e)["kind"], "internal");
  EXPECT_EQ((*e)["signal"], "SIGSEGV");
  const std::string message = (*e)["message"];
  EXPECT_NE(message.find("SIGSEGV during execute: training"), std::string::npos) << message;
  EXPECT_EQ(run.last("done"), nullptr);
}

TEST(WorkerCli, BadInputIsAnErrorEventWithItsKindAndExitCode) {
  struct Case {
    std::string args;
    std::string kind;
    int code;
    std::string needle;
  };
  const std::string nodata = "--job " + (workdir() / "nodata.yaml").string();
  for (const Case& c : std::vector<Case>{
           {"execute " + nodata + " --technique single --devices cpu", "data", 3, "missing.txt"},
           {"execute " + job() + " --technique zero3 --devices cpu", "config", 2,
            "unknown technique"},
           {"execute " + job() + " --technique single --devices gpu:7", "config", 2, "gpu:7"},
           {"execute " + job() + " --technique single --devices cpu:0,cpu:1", "config", 2,
            "one device"},
           {"execute --job /nonexistent.yaml --technique single", "config", 2, "nonexistent"},
           {"execute " + job() + " --technique single --params '[1'", "config", 2, "params"},
           {"execute " + job() + " --technique fsdp --devices cpu --params " +
                "'{\"activation_checkpointing\": \"yes\"}'",
            "config", 2, "activation_checkpointing"},
           {"execute " + job() + " --technique offload --devices cpu:0,cpu:1", "config", 2,
            "one device"},
           {"execute --technique single", "config", 2, "--job"},
       }) {
    const WorkerRun run = worker(c.args);
    EXPECT_EQ(run.code, c.code) << c.args;
    const json* e = run.last("error");
    ASSERT_NE(e, nullptr) << c.args;
    EXPECT_EQ((*e)["kind"], c.kind) << c.args;
    EXPECT_NE((*e)["message"].get<std::string>().find(c.needle), std::string::npos)
        << c.args << ": " << (*e)["message"];
  }
}

TEST(WorkerCli, MeasureRecordsATraceOrSaysWhyItCannot) {
  // Debian's libtorch 1.13 (CI) has no Kineto profiler: a config error naming it, before any
  // step runs, and no file. A PyTorch with Kineto writes a Chrome trace of the timed steps.
  const fs::path trace = workdir() / "trace.json";
  fs::remove(trace);
  const WorkerRun run = worker("measure " + job() + " --technique single --devices cpu " +
                               "--warmup-steps 1 --measure-steps 1 --no-probes --params " +
                               "'{\"grad_accum\": 1}' --trace " + trace.string());
  EXPECT_TRUE(run.other.empty()) << run.other.front();
  if (run.code == 0) {
    ASSERT_NE(run.last("measurement"), nullptr);
    std::ifstream in(trace);
    const json t = json::parse(in, nullptr, false);
    ASSERT_TRUE(t.is_object() && t.contains("traceEvents")) << trace;
    EXPECT_FALSE(t["traceEvents"].empty());
  } else {
    EXPECT_EQ(run.code, 2);
    const json* e = run.last("error");
    ASSERT_NE(e, nullptr);
    EXPECT_EQ((*e)["kind"], "config");
    const std::string message = (*e)["message"];
    EXPECT_NE(message.find("cannot record a trace"), std::string::npos) << message;
    EXPECT_NE(message.find("Kineto"), std::string::npos) << message;
    EXPECT_EQ(run.last("measurement"), nullptr);
    EXPECT_FALSE(fs::exists(trace));
  }
}

TEST(WorkerCli, InfoListsTheTechniques) {
  const WorkerRun run = worker("info");
  EXPECT_EQ(run.code, 0);
  ASSERT_NE(run.last("info"), nullptr);
  EXPECT_EQ((*run.last("info"))["techniques"], json({"single", "ddp", "fsdp", "gpipe", "offload"}));
  EXPECT_TRUE((*run.last("info"))["features"].is_object());
  EXPECT_TRUE((*run.last("info"))["features"]["fused_cross_entropy"].is_boolean());
  // The BLAS that libtorch's CPU matrix products run on: a library was found and named.
  const json& blas = (*run.last("info"))["blas"];
  EXPECT_FALSE(blas["library"].get<std::string>().empty());
  EXPECT_TRUE(blas["kind"] == "openblas" || blas["kind"] == "mkl" || blas["kind"] == "reference" ||
              blas["kind"] == "unknown")
      << blas.dump();
}

}  // namespace
}  // namespace saturn::worker
