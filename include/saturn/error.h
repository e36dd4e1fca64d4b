// Errors as values. Every loader and solver entry point returns Result<T>: either the value or
// an Error that names the input file, the line (when known), the field and what is wrong.
// Nothing in libsaturn's public API throws.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace saturn {

// What kind of failure an Error is, where it decides what happens next (the `saturn` command's
// exit code: 2 for bad input, 3 for output that could not be written).
enum class ErrorKind {
  kInput,  // the input is wrong, or a resource is busy: fix it and run again
  kWrite,  // something could not be written (a full disk, no permission, a read-only file system)
};

struct Error {
  std::string file;     // input path; empty when the input did not come from a file
  int line = 0;         // 1-based line in `file`; 0 when unknown
  std::string field;    // dotted path to the offending value, e.g. "tasks[2].configs[0].runtime_s"
  std::string message;  // what is wrong, in words a user can act on
  ErrorKind kind = ErrorKind::kInput;

  // "file:line: field: message", leaving out the parts that are empty.
  std::string to_string() const;
};

// Holds a T or an Error. Accessing value() on an error (or error() on a value) is a bug.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::move(value)) {}      // NOLINT: implicit by design
  Result(Error error) : state_(std::move(error)) {}  // NOLINT: implicit by design

  bool ok() const { return std::holds_alternative<T>(state_); }
  explicit operator bool() const { return ok(); }

  const T& value() const& { return std::get<T>(state_); }
  T& value() & { return std::get<T>(state_); }
  T&& value() && { return std::get<T>(std::move(state_)); }
  const Error& error() const { return std::get<Error>(state_); }

  const T* operator->() const { return &value(); }
  T* operator->() { return &value(); }
  const T& operator*() const { return value(); }
  T& operator*() { return value(); }

 private:
  std::variant<T, Error> state_;
};

// Result<void>: success or an Error.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT: implicit by design
  static Status Ok() { return Status(); }

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const { return error_; }

 private:
  Error error_;
  bool ok_ = true;
};

}  // namespace saturn
