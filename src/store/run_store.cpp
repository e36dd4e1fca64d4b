// RunStore on SQLite; see saturn/run_store.h. Schema version 2 (1 lacked eval_s, checkpoint_s):
//   trials(fingerprint, technique, gpus, device_type, job, feasible, params, step_s,
//          peak_memory_bytes, total_steps, reason, error, trial_s, startup_s, eval_s,
//          checkpoint_s, measured_at)
//   jobs(seq, name, record: JobRecord as JSON), events(seq, job, time_s, kind, event),
//   meta(key, value)
#include "saturn/run_store.h"

#include <sqlite3.h>

#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>

#include <fmt/format.h>

namespace saturn {

namespace {

constexpr int kSchemaVersion = 2;

// Fields that do not change how fast a step runs or how much memory it takes.
const char* const kSpeedIrrelevant[] = {"name",      "lr",         "weight_decay", "warmup_steps",
                                        "grad_clip", "steps",      "seed",         "eval_every",
                                        "gpus",      "techniques", "grid"};

}  // namespace

std::string job_fingerprint(const JobSpec& job, const std::string& base_dir) {
  nlohmann::json doc = job_to_json(job, "fingerprint", base_dir)["jobs"][0];
  for (const char* key : kSpeedIrrelevant) doc.erase(key);
  if (doc.contains("data")) doc["data"].erase("name");
  const std::string text = doc.dump();  // keys sorted: canonical
  std::uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return fmt::format("{:016x}", h);
}

nlohmann::json job_spec(const JobSpec& job, const std::string& base_dir) {
  nlohmann::json doc = job_to_json(job, "spec", base_dir)["jobs"][0];
  for (const char* key : {"name", "gpus", "techniques", "grad_accum", "eval_every"}) {
    doc.erase(key);
  }
  if (doc.contains("data")) doc["data"].erase("name");
  return doc;
}

struct RunStore::Db {
  sqlite3* handle = nullptr;
  ~Db() {
    if (handle) sqlite3_close(handle);
  }
};

RunStore::RunStore(std::string path, std::unique_ptr<Db> db)
    : path_(std::move(path)), db_(std::move(db)) {}
RunStore::~RunStore() = default;

namespace {

// A failure to write (a full disk, no permission, a read-only file system) is kWrite.
ErrorKind kind_of(int code) {
  switch (code & 0xff) {  // the primary result code
    case SQLITE_FULL:
    case SQLITE_IOERR:
    case SQLITE_READONLY:
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
      return ErrorKind::kWrite;
    default:
      return ErrorKind::kInput;
  }
}

Error db_error(const std::string& path, sqlite3* db, const std::string& what) {
  return Error{path, 0, "", fmt::format("{}: {}", what, db ? sqlite3_errmsg(db) : "out of memory"),
               db ? kind_of(sqlite3_extended_errcode(db)) : ErrorKind::kInput};
}

Status exec(const std::string& path, sqlite3* db, const char* sql) {
  char* message = nullptr;
  if (const int rc = sqlite3_exec(db, sql, nullptr, nullptr, &message); rc != SQLITE_OK) {
    const std::string m = message ? message : "unknown error";
    sqlite3_free(message);
    return Error{path, 0, "", fmt::format("database: {}", m), kind_of(rc)};
  }
  return Status::Ok();
}

// A prepared statement, finalized on scope exit.
class Statement {
 public:
  Statement(sqlite3* db, const char* sql) { sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr); }
  ~Statement() { sqlite3_finalize(stmt_); }
  sqlite3_stmt* get() const { return stmt_; }
  explicit operator bool() const { return stmt_ != nullptr; }
  void text(int i, const std::string& v) {
    sqlite3_bind_text(stmt_, i, v.c_str(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  }

 private:
  sqlite3_stmt* stmt_ = nullptr;
};

std::string column_text(sqlite3_stmt* s, int i) {
  const unsigned char* t = sqlite3_column_text(s, i);
  return t ? reinterpret_cast<const char*>(t) : "";
}

TrialRecord read_trial(sqlite3_stmt* s) {
  TrialRecord r;
  r.key.fingerprint = column_text(s, 0);
  r.key.technique = column_text(s, 1);
  r.key.gpus = sqlite3_column_int(s, 2);
  r.key.device_type = column_text(s, 3);
  r.job = column_text(s, 4);
  r.feasible = sqlite3_column_int(s, 5) != 0;
  r.params = nlohmann::json::parse(column_text(s, 6), nullptr, false);
  if (!r.params.is_object()) r.params = nlohmann::json::object();
  r.step_s = sqlite3_column_double(s, 7);
  r.peak_memory_bytes = sqlite3_column_double(s, 8);
  r.total_steps = sqlite3_column_int64(s, 9);
  r.reason = column_text(s, 10);
  r.error = column_text(s, 11);
  r.trial_s = sqlite3_column_double(s, 12);
  r.startup_s = sqlite3_column_double(s, 13);
  r.eval_s = sqlite3_column_double(s, 14);
  r.checkpoint_s = sqlite3_column_double(s, 15);
  return r;
}

constexpr const char* kTrialColumns =
    "fingerprint, technique, gpus, device_type, job, feasible, params, step_s, "
    "peak_memory_bytes, total_steps, reason, error, trial_s, startup_s, eval_s, checkpoint_s";

}  // namespace

Result<std::unique_ptr<RunStore>> RunStore::open(const std::string& path) {
  auto db = std::make_unique<Db>();
  if (sqlite3_open_v2(path.c_str(), &db->handle, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                      nullptr) != SQLITE_OK) {
    return db_error(path, db->handle, "cannot open the run database");
  }
  sqlite3_busy_timeout(db->handle, 10000);
  // journal_mode answers with a row; a file that is not a database fails here.
  if (auto s = exec(path, db->handle, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"); !s) {
    return s.error();
  }
  int version = 0;
  {
    Statement st(db->handle, "PRAGMA user_version");
    if (st && sqlite3_step(st.get()) == SQLITE_ROW) version = sqlite3_column_int(st.get(), 0);
  }
  if (version > kSchemaVersion) {
    return Error{path, 0, "",
                 fmt::format("the run database has schema version {}; this Saturn reads up to {}",
                             version, kSchemaVersion)};
  }
  // Version 1 databases lack the evaluation and checkpoint seconds (their trials read as 0).
  // The upgrade is one transaction that looks at the version again under the write lock, so a
  // crash or a second process opening the same database cannot apply it twice.
  if (version == 1) {
    if (auto s = exec(path, db->handle, "BEGIN IMMEDIATE"); !s) return s.error();
    int now = 0;
    {
      Statement st(db->handle, "PRAGMA user_version");
      if (st && sqlite3_step(st.get()) == SQLITE_ROW) now = sqlite3_column_int(st.get(), 0);
    }
    const Status upgraded =
        now != 1 ? Status::Ok()
                 : exec(path, db->handle,
                        "ALTER TABLE trials ADD COLUMN eval_s REAL NOT NULL DEFAULT 0;"
                        "ALTER TABLE trials ADD COLUMN checkpoint_s REAL NOT NULL DEFAULT 0;"
                        "PRAGMA user_version = 2;");
    if (!upgraded) {
      static_cast<void>(exec(path, db->handle, "ROLLBACK"));
      return upgraded.error();
    }
    if (auto s = exec(path, db->handle, "COMMIT"); !s) return s.error();
  }
  const Status created = exec(path, db->handle,
                              "CREATE TABLE IF NOT EXISTS trials ("
                              " fingerprint TEXT NOT NULL, technique TEXT NOT NULL,"
                              " gpus INTEGER NOT NULL, device_type TEXT NOT NULL,"
                              " job TEXT NOT NULL, feasible INTEGER NOT NULL, params TEXT NOT NULL,"
                              " step_s REAL NOT NULL, peak_memory_bytes REAL NOT NULL,"
                              " total_steps INTEGER NOT NULL, reason TEXT NOT NULL,"
                              " error TEXT NOT NULL, trial_s REAL NOT NULL,"
                              " startup_s REAL NOT NULL DEFAULT 0,"
                              " eval_s REAL NOT NULL DEFAULT 0,"
                              " checkpoint_s REAL NOT NULL DEFAULT 0,"
                              " measured_at TEXT NOT NULL DEFAULT (datetime('now')),"
                              " PRIMARY KEY (fingerprint, technique, gpus, device_type));"
                              "CREATE TABLE IF NOT EXISTS jobs ("
                              " seq INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT UNIQUE NOT NULL,"
                              " record TEXT NOT NULL);"
                              "CREATE TABLE IF NOT EXISTS events ("
                              " seq INTEGER PRIMARY KEY AUTOINCREMENT, job TEXT NOT NULL,"
                              " time_s REAL NOT NULL, kind TEXT NOT NULL, event TEXT NOT NULL);"
                              "CREATE INDEX IF NOT EXISTS events_by_job ON events (job, kind);"
                              "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);"
                              "PRAGMA user_version = 2;");
  if (!created) return created.error();
  return std::unique_ptr<RunStore>(new RunStore(path, std::move(db)));
}

namespace {

// `path` as the path of a file: URI (RFC 3986), what SQLite reads with SQLITE_OPEN_URI.
std::string uri_path(const std::string& path) {
  const std::string absolute = std::filesystem::absolute(path).string();
  std::string out;
  for (unsigned char c : absolute) {
    if (std::isalnum(c) || std::strchr("/-._~", c) != nullptr) {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

}  // namespace

Result<std::unique_ptr<RunStore>> RunStore::open_read_only(const std::string& path) {
  // A WAL database opens read-only where its -shm file exists or can be made; a finished run
  // left none, and a reader who may not write the directory cannot make one: then it is read as
  // immutable. That is sound only while no writer is active, and an active writer keeps a
  // non-empty -wal file: with one there, a read-only reader gets an error saying so.
  std::error_code ec;
  const auto wal = std::filesystem::file_size(path + "-wal", ec);
  const bool writer_active = !ec && wal > 0;
  Status last = Status::Ok();
  for (const bool immutable : {false, true}) {
    if (immutable && writer_active) {
      return Error{path, 0, "",
                   fmt::format("{}; the run is active (its -wal file is not empty), so it cannot "
                               "be read without write access to its directory",
                               last.error().message)};
    }
    auto db = std::make_unique<Db>();
    const std::string name = immutable ? "file:" + uri_path(path) + "?immutable=1" : path;
    if (sqlite3_open_v2(name.c_str(), &db->handle, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI,
                        nullptr) != SQLITE_OK) {
      last = db_error(path, db->handle, "cannot open the run database");
      continue;
    }
    sqlite3_busy_timeout(db->handle, 10000);
    int version = -1;
    {
      Statement st(db->handle, "PRAGMA user_version");
      if (st && sqlite3_step(st.get()) == SQLITE_ROW) version = sqlite3_column_int(st.get(), 0);
    }
    if (version < 0) {
      last = db_error(path, db->handle, "cannot read the run database");
      continue;
    }
    if (version > kSchemaVersion) {
      return Error{path, 0, "",
                   fmt::format("the run database has schema version {}; this Saturn reads up to {}",
                               version, kSchemaVersion)};
    }
    return std::unique_ptr<RunStore>(new RunStore(path, std::move(db)));
  }
  return last.error();
}

Result<std::optional<TrialRecord>> RunStore::find_trial(const TrialKey& key) {
  const std::string sql = fmt::format(
      "SELECT {} FROM trials WHERE fingerprint = ?1 AND technique = ?2 AND gpus = ?3 AND "
      "device_type = ?4",
      kTrialColumns);
  Statement st(db_->handle, sql.c_str());
  if (!st) return db_error(path_, db_->handle, "reading a trial");
  st.text(1, key.fingerprint);
  st.text(2, key.technique);
  sqlite3_bind_int(st.get(), 3, key.gpus);
  st.text(4, key.device_type);
  const int rc = sqlite3_step(st.get());
  if (rc == SQLITE_ROW) return std::optional<TrialRecord>(read_trial(st.get()));
  if (rc == SQLITE_DONE) return std::optional<TrialRecord>();
  return db_error(path_, db_->handle, "reading a trial");
}

Status RunStore::put_trial(const TrialRecord& r) {
  const std::string sql = fmt::format(
      "INSERT OR REPLACE INTO trials ({}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, "
      "?12, ?13, ?14, ?15, ?16)",
      kTrialColumns);
  Statement st(db_->handle, sql.c_str());
  if (!st) return db_error(path_, db_->handle, "writing a trial");
  st.text(1, r.key.fingerprint);
  st.text(2, r.key.technique);
  sqlite3_bind_int(st.get(), 3, r.key.gpus);
  st.text(4, r.key.device_type);
  st.text(5, r.job);
  sqlite3_bind_int(st.get(), 6, r.feasible ? 1 : 0);
  st.text(7, r.params.dump());
  sqlite3_bind_double(st.get(), 8, r.step_s);
  sqlite3_bind_double(st.get(), 9, r.peak_memory_bytes);
  sqlite3_bind_int64(st.get(), 10, r.total_steps);
  st.text(11, r.reason);
  st.text(12, r.error);
  sqlite3_bind_double(st.get(), 13, r.trial_s);
  sqlite3_bind_double(st.get(), 14, r.startup_s);
  sqlite3_bind_double(st.get(), 15, r.eval_s);
  sqlite3_bind_double(st.get(), 16, r.checkpoint_s);
  if (sqlite3_step(st.get()) != SQLITE_DONE) return db_error(path_, db_->handle, "writing a trial");
  return Status::Ok();
}

Result<std::vector<TrialRecord>> RunStore::trials() {
  const std::string sql = fmt::format(
      "SELECT {} FROM trials ORDER BY job, technique, gpus, device_type", kTrialColumns);
  Statement st(db_->handle, sql.c_str());
  if (!st) return db_error(path_, db_->handle, "reading trials");
  std::vector<TrialRecord> out;
  int rc;
  while ((rc = sqlite3_step(st.get())) == SQLITE_ROW) out.push_back(read_trial(st.get()));
  if (rc != SQLITE_DONE) return db_error(path_, db_->handle, "reading trials");
  return out;
}

Status RunStore::clear_trials() {
  return exec(path_, db_->handle, "DELETE FROM trials;");
}

std::string loss_text(const std::optional<double>& loss) {
  return loss && std::isfinite(*loss) ? fmt::format("{:.4f}", *loss) : "-";
}

namespace {

nlohmann::json optional_json(const std::optional<double>& v) {
  return v && std::isfinite(*v) ? nlohmann::json(*v) : nlohmann::json();
}

std::optional<double> optional_number(const nlohmann::json& d, const char* key) {
  if (!d.contains(key) || !d[key].is_number()) return std::nullopt;
  return d[key].get<double>();
}

}  // namespace

namespace {
constexpr std::pair<JobStatus, std::string_view> kJobStatusNames[] = {
    {JobStatus::kPending, "pending"},
    {JobStatus::kProfiling, "profiling"},
    {JobStatus::kRunning, "running"},
    {JobStatus::kDone, "done"},
    {JobStatus::kFailed, "failed"}};
}  // namespace

std::string_view to_string(JobStatus status) {
  for (const auto& [s, name] : kJobStatusNames) {
    if (s == status) return name;
  }
  return "pending";
}

std::optional<JobStatus> parse_job_status(std::string_view name) {
  for (const auto& [s, n] : kJobStatusNames) {
    if (n == name) return s;
  }
  return std::nullopt;
}

nlohmann::json to_json(const JobRecord& j) {
  return {{"name", j.name},
          {"state", to_string(j.state)},
          {"technique", j.technique},
          {"node", j.node},
          {"gpus", j.gpus},
          {"params", j.params},
          {"step", j.step},
          {"checkpoint_step", j.checkpoint_step},
          {"total_steps", j.total_steps},
          {"loss", optional_json(j.loss)},
          {"eval_loss", optional_json(j.eval_loss)},
          {"attempts", j.attempts},
          {"launches", j.launches},
          {"planned_start_s", j.planned_start_s},
          {"planned_end_s", j.planned_end_s},
          {"started_s", j.started_s},
          {"finished_s", j.finished_s},
          {"error", j.error},
          {"spec", j.spec}};
}

JobRecord job_record_from_json(const nlohmann::json& d) {
  JobRecord j;
  j.name = d.value("name", "");
  j.state = parse_job_status(d.value("state", "pending")).value_or(JobStatus::kPending);
  j.technique = d.value("technique", "");
  j.node = d.value("node", "");
  if (d.contains("gpus") && d["gpus"].is_array()) j.gpus = d["gpus"].get<std::vector<int>>();
  if (d.contains("params") && d["params"].is_object()) j.params = d["params"];
  j.step = d.value("step", std::int64_t{0});
  j.checkpoint_step = d.value("checkpoint_step", std::int64_t{0});
  j.total_steps = d.value("total_steps", std::int64_t{0});
  j.loss = optional_number(d, "loss");
  j.eval_loss = optional_number(d, "eval_loss");
  j.attempts = d.value("attempts", 0);
  j.launches = d.value("launches", 0);
  j.planned_start_s = d.value("planned_start_s", 0.0);
  j.planned_end_s = d.value("planned_end_s", 0.0);
  j.started_s = d.value("started_s", -1.0);
  j.finished_s = d.value("finished_s", -1.0);
  j.error = d.value("error", "");
  if (d.contains("spec") && d["spec"].is_object()) j.spec = d["spec"];
  return j;
}

Status RunStore::put_job(const JobRecord& job) {
  Statement st(db_->handle,
               "INSERT INTO jobs (name, record) VALUES (?1, ?2) "
               "ON CONFLICT(name) DO UPDATE SET record = excluded.record");
  if (!st) return db_error(path_, db_->handle, "writing a job");
  st.text(1, job.name);
  st.text(2, to_json(job).dump());
  if (sqlite3_step(st.get()) != SQLITE_DONE) return db_error(path_, db_->handle, "writing a job");
  return Status::Ok();
}

Result<std::vector<JobRecord>> RunStore::jobs() {
  Statement st(db_->handle, "SELECT record FROM jobs ORDER BY seq");
  if (!st) return db_error(path_, db_->handle, "reading jobs");
  std::vector<JobRecord> out;
  int rc;
  while ((rc = sqlite3_step(st.get())) == SQLITE_ROW) {
    const auto d = nlohmann::json::parse(column_text(st.get(), 0), nullptr, false);
    if (d.is_object()) out.push_back(job_record_from_json(d));
  }
  if (rc != SQLITE_DONE) return db_error(path_, db_->handle, "reading jobs");
  return out;
}

Status RunStore::add_event(const std::string& job, double time_s, const nlohmann::json& event) {
  Statement st(db_->handle,
               "INSERT INTO events (job, time_s, kind, event) VALUES (?1, ?2, ?3, ?4)");
  if (!st) return db_error(path_, db_->handle, "writing an event");
  st.text(1, job);
  sqlite3_bind_double(st.get(), 2, time_s);
  st.text(3, event.value("event", ""));
  st.text(4, event.dump());
  if (sqlite3_step(st.get()) != SQLITE_DONE) {
    return db_error(path_, db_->handle, "writing an event");
  }
  return Status::Ok();
}

Result<std::vector<std::pair<double, nlohmann::json>>> RunStore::events(const std::string& job,
                                                                        const std::string& kind) {
  Statement st(db_->handle,
               "SELECT time_s, event FROM events WHERE (?1 = '' OR job = ?1) AND "
               "(?2 = '' OR kind = ?2) ORDER BY seq");
  if (!st) return db_error(path_, db_->handle, "reading events");
  st.text(1, job);
  st.text(2, kind);
  std::vector<std::pair<double, nlohmann::json>> out;
  int rc;
  while ((rc = sqlite3_step(st.get())) == SQLITE_ROW) {
    out.emplace_back(sqlite3_column_double(st.get(), 0),
                     nlohmann::json::parse(column_text(st.get(), 1), nullptr, false));
  }
  if (rc != SQLITE_DONE) return db_error(path_, db_->handle, "reading events");
  return out;
}

Result<double> RunStore::latest_event_s() {
  Statement st(db_->handle, "SELECT COALESCE(MAX(time_s), 0) FROM events");
  if (!st || sqlite3_step(st.get()) != SQLITE_ROW) {
    return db_error(path_, db_->handle, "reading events");
  }
  return sqlite3_column_double(st.get(), 0);
}

namespace {

constexpr const char* kRunClockKey = "run_clock_s";

double epoch_now_s() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// A stored number; std::nullopt when absent or not a finite number > 0.
Result<std::optional<double>> stored_seconds(RunStore& store, const std::string& key) {
  auto text = store.meta(key);
  if (!text) return text.error();
  if (!*text) return std::optional<double>();
  char* end = nullptr;
  const double value = std::strtod((*text)->c_str(), &end);
  if (!end || *end != '\0' || !std::isfinite(value) || value <= 0) return std::optional<double>();
  return std::optional<double>(value);
}

}  // namespace

Result<RunClock> RunClock::resume(RunStore& store, std::function<double()> epoch_s) {
  if (!epoch_s) epoch_s = epoch_now_s;
  const double now = epoch_s();
  auto clock = stored_seconds(store, kRunClockKey);
  if (!clock) return clock.error();
  if (!*clock) {
    // A run begun by a Saturn that kept its start instead: its clock went on meanwhile.
    auto started = stored_seconds(store, "run_started_epoch_s");
    if (!started) return started.error();
    if (*started) return RunClock(**started, std::move(epoch_s));
  }
  auto latest = store.latest_event_s();
  if (!latest) return latest.error();
  return RunClock(now - std::max(clock->value_or(0.0), *latest), std::move(epoch_s));
}

double RunClock::now() const {
  return epoch_s_() - origin_epoch_s_;
}

Status RunClock::save(RunStore& store, bool force) {
  const double t = now();
  if (!force && t - saved_at_s_ < 1) return Status::Ok();
  saved_at_s_ = t;
  return store.set_meta(kRunClockKey, fmt::format("{:.6f}", t));
}

Status RunStore::set_meta(const std::string& key, const std::string& value) {
  Statement st(db_->handle, "INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)");
  if (!st) return db_error(path_, db_->handle, "writing run metadata");
  st.text(1, key);
  st.text(2, value);
  if (sqlite3_step(st.get()) != SQLITE_DONE) {
    return db_error(path_, db_->handle, "writing run metadata");
  }
  return Status::Ok();
}

Result<std::optional<std::string>> RunStore::meta(const std::string& key) {
  Statement st(db_->handle, "SELECT value FROM meta WHERE key = ?1");
  if (!st) return db_error(path_, db_->handle, "reading run metadata");
  st.text(1, key);
  const int rc = sqlite3_step(st.get());
  if (rc == SQLITE_ROW) return std::optional<std::string>(column_text(st.get(), 0));
  if (rc == SQLITE_DONE) return std::optional<std::string>();
  return db_error(path_, db_->handle, "reading run metadata");
}

Status RunStore::begin() {
  return exec(path_, db_->handle, "BEGIN IMMEDIATE;");
}
Status RunStore::commit() {
  return exec(path_, db_->handle, "COMMIT;");
}
Status RunStore::rollback() {
  return exec(path_, db_->handle, "ROLLBACK;");
}

}  // namespace saturn
