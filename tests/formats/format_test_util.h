// Test helpers for the format readers: temp files and assertions on located errors.
#pragma once

#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "saturn/error.h"

namespace saturn::testing_formats {

// Writes `content` to a fresh file named `name` under the test's temp dir; returns its path.
inline std::string write_temp_file(const std::string& name, const std::string& content) {
  const ::testing::TestInfo* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::filesystem::path dir = std::filesystem::path(::testing::TempDir()) / "saturn_formats" /
                              (std::string(info->test_suite_name()) + "." + info->name());
  std::filesystem::create_directories(dir);
  const std::filesystem::path path = dir / name;
  std::ofstream(path, std::ios::binary) << content;
  return path.string();
}

// Checks that `error` names `file`, `line` (0: no line) and `field`, and that its message (and
// to_string()) mention `message_part`.
inline ::testing::AssertionResult ErrorIs(const Error& error, const std::string& file, int line,
                                          const std::string& field,
                                          const std::string& message_part = "") {
  const std::string text = error.to_string();
  const std::string located = line > 0 ? file + ":" + std::to_string(line) + ": " : file + ": ";
  if (error.file != file || error.line != line || error.field != field || text.find(located) != 0 ||
      text.find(field) == std::string::npos || text.find(message_part) == std::string::npos) {
    return ::testing::AssertionFailure()
           << "got \"" << text << "\" (file=" << error.file << " line=" << error.line
           << " field=" << error.field << "); want file=" << file << " line=" << line
           << " field=" << field << " message containing \"" << message_part << "\"";
  }
  return ::testing::AssertionSuccess() << text;
}

}  // namespace saturn::testing_formats
